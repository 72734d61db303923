using System.Net;
using System.Text;
using Replicator.Cache;
using Replicator.Http;

namespace Replicator.Proxy;

/// <summary>
/// The answer to a request for the proxy's own page ("/", as a browser asks when pointed at the proxy's port as a web
/// site; other origin-form targets are mirror URLs, see <see cref="MirrorRoutes"/>): a small page that says what this
/// is, lists the hosts in the cache tree and counts requests by file class.
/// </summary>
internal static class StatusPage
{
    public static async ValueTask<string> SendAsync(Exchange exchange)
    {
        var request = exchange.Request;
        if (request.Method is not ("GET" or "HEAD"))
        {
            throw new ProxyException(FailedStep.ClientRequest, "this is a proxy: send requests for other servers in absolute form (GET http://host/path)");
        }

        var path = request.Target.Split('?')[0];
        if (path is not ("/" or MirrorRoutes.OwnPrefix))
        {
            throw new ProxyException(FailedStep.NoSuchPage, $"{path} is not a page of this proxy");
        }

        var root = exchange.Server.Store.Root;
        var hosts = exchange.Server.Store.ListHosts();
        var html = new StringBuilder();
        html.Append("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Replicator</title></head><body>\n");
        html.Append("<h1>Replicator</h1>\n<p>A caching HTTP mirror proxy. Set it as the HTTP proxy of a browser or of apt ");
        html.Append("(<code>Acquire::http::Proxy \"http://this-host:port\";</code>); everything fetched through it is mirrored under ");
        html.Append("<code>").Append(WebUtility.HtmlEncode(root)).Append("</code> as <code>host:port/path</code>.</p>\n");
        html.Append("<h2>Hosts in the cache (").Append(hosts.Count).Append(")</h2>\n<ul>\n");
        foreach (var host in hosts)
        {
            html.Append("<li><code>").Append(WebUtility.HtmlEncode(host)).Append("/</code></li>\n");
        }

        html.Append("</ul>\n");
        AppendCounts(html, exchange.Server.Counters.Snapshot());
        html.Append("</body></html>\n");
        var body = Encoding.UTF8.GetBytes(html.ToString());
        var headers = new HttpHeaders();
        headers.Add("Content-Type", "text/html; charset=utf-8");
        headers.Add("Cache-Control", "no-store");
        exchange.Respond(200);
        var head = HeadWriter.Response(200, "OK", headers, new Framing(BodyKind.Length, body.Length), exchange.KeepAlive);
        await exchange.SendAsync(request.Method == "HEAD" ? head : [.. head, .. body]);
        return Outcomes.Hit;
    }

    /// <summary>Requests since start by file class (rows) and outcome (columns).</summary>
    private static void AppendCounts(StringBuilder html, IReadOnlyList<(FileClass Class, string Outcome, long Count)> counts)
    {
        var outcomes = counts.Select(count => count.Outcome).Distinct().Order(StringComparer.Ordinal).ToList();
        html.Append("<h2>Requests since start, by file class</h2>\n<table>\n<tr><th>class</th>");
        foreach (var outcome in outcomes)
        {
            html.Append("<th>").Append(WebUtility.HtmlEncode(outcome)).Append("</th>");
        }

        html.Append("</tr>\n");
        foreach (var group in counts.GroupBy(count => count.Class))
        {
            html.Append("<tr><td>").Append(FileClasses.Name(group.Key)).Append("</td>");
            foreach (var outcome in outcomes)
            {
                html.Append("<td>").Append(group.Where(count => count.Outcome == outcome).Sum(count => count.Count)).Append("</td>");
            }

            html.Append("</tr>\n");
        }

        html.Append("</table>\n");
    }
}
