using System.Globalization;
using System.Net;
using System.Text;
using Replicator.Cache;
using Replicator.Cache.Upkeep;

namespace Replicator.Proxy.Console;

/// <summary>
/// The console's first page: whether the cache does its job (requests and bytes from the cache against upstream,
/// since start and since the cache was created, per host), the disk against its cap, a chart of the last hours
/// (SVG drawn here), the downloads running now (updated each second by a few lines of script, no reload), and the
/// admin's jobs (verify, expire) with their progress.
/// </summary>
internal static class Dashboard
{
    /// <summary>One running download, as the live table shows it.</summary>
    public sealed record RunningDownload(string Url, long Received, long? Total, long RateBytesPerSecond, int Clients, long ResumedFrom, double Seconds);

    public static IReadOnlyList<RunningDownload> Downloads(ProxyServer server) =>
        [.. server.Downloads.All.Where(download => download.StartedAt != 0).Select(download =>
        {
            var seconds = Math.Max(0.001, server.Clock.GetElapsedTime(download.StartedAt).TotalSeconds);
            return new RunningDownload(download.Url.ToString(), download.Available, download.Length, (long)((download.Available - download.ResumedFrom) / seconds), download.Clients, download.ResumedFrom, Math.Round(seconds, 1));
        }).OrderBy(download => download.Url, StringComparer.Ordinal)];

    public static string Render(ProxyServer server, IPAddress? client, string? message)
    {
        var html = ConsoleHtml.Page("Dashboard", message);
        html.Append("<p>A caching HTTP mirror proxy: set it as the HTTP proxy of a browser or of apt (<code>Acquire::http::Proxy \"http://this-host:port\";</code>); ")
            .Append("everything fetched through it is mirrored under <code>").Append(ConsoleHtml.Encode(server.Store.Root)).Append("</code> as <code>host:port/path</code>.</p>\n");
        AppendSinceStart(html, server);
        var hosts = server.Store.ListHosts();
        html.Append("<h2>Hosts in the cache (").Append(hosts.Count).Append(")</h2>\n<ul id=\"hosts\">");
        foreach (var host in hosts)
        {
            html.Append("<li><a href=\"").Append(ConsoleHtml.Prefix).Append("browse/").Append(ConsoleHtml.PathUrl(host)).Append("/\">").Append(ConsoleHtml.Encode(host)).Append("/</a></li>");
        }

        html.Append("</ul>\n");
        AppendSinceCreated(html, server);
        AppendChart(html, server.History.Samples());
        html.Append("<h2>Downloading now</h2>\n<div class=\"wide\"><table id=\"downloads\"><thead><tr><th>URL</th><th class=\"n\">received</th><th class=\"n\">of</th><th class=\"n\">rate</th><th class=\"n\">clients</th><th class=\"n\">resumed from</th></tr></thead><tbody>");
        foreach (var download in Downloads(server))
        {
            AppendDownload(html, download);
        }

        html.Append("</tbody></table></div>\n");
        ConsoleActions.AppendJobs(html, server, client);
        AppendCounts(html, server.Counters.Snapshot());
        html.Append(Script);
        return ConsoleHtml.End(html);
    }

    private static void AppendSinceStart(StringBuilder html, ProxyServer server)
    {
        var (fromCache, fromUpstream) = ActivityHistory.Totals(server.Counters);
        var (_, sent, _) = server.Counters.Breakdown();
        var bytesFromCache = sent.Where(bytes => bytes.Outcome is Outcomes.Hit or Outcomes.Revalidated or Outcomes.Stale or Outcomes.Offline).Sum(bytes => bytes.Bytes);
        var bytesSent = sent.Sum(bytes => bytes.Bytes);
        var cap = server.CacheOptions.Upkeep.MaxSize;
        html.Append("<h2>Since start</h2>\n<div class=\"tiles\">")
            .Append(Tile("hit ratio (requests)", ConsoleHtml.Ratio(fromCache, fromCache + fromUpstream)))
            .Append(Tile("hit ratio (bytes)", ConsoleHtml.Ratio(bytesFromCache, bytesSent)))
            .Append(Tile("from the cache", $"{fromCache} requests, {ConsoleHtml.Bytes(bytesFromCache)}"))
            .Append(Tile("from upstream", $"{fromUpstream} requests, {ConsoleHtml.Bytes(bytesSent - bytesFromCache)}"))
            .Append(Tile("disk", $"{ConsoleHtml.Bytes(server.Usage.TreeBytes)} in {server.Usage.FileCount} files" + (cap is { } max ? $" of {ConsoleHtml.Bytes(max)} ({ConsoleHtml.Ratio(server.Usage.TreeBytes, max)})" : string.Empty)))
            .Append(Tile("connections / downloads", $"{server.Admission.OpenTotal} / {server.Downloads.Count}"))
            .Append("</div>\n");
    }

    private static void AppendSinceCreated(StringBuilder html, ProxyServer server)
    {
        IReadOnlyList<HostRecord> hosts;
        try
        {
            hosts = server.Usage.Hosts();
        }
        catch (Exception e) when (e is Microsoft.Data.Sqlite.SqliteException or IOException)
        {
            html.Append("<p class=\"muted\">The usage database cannot be read now: ").Append(ConsoleHtml.Encode(e.Message)).Append("</p>\n");
            return;
        }

        var hits = hosts.Sum(host => host.Hits);
        var misses = hosts.Sum(host => host.Misses);
        var saved = hosts.Sum(host => host.BytesFromCache);
        html.Append("<h2>Since the cache was created</h2>\n<div class=\"tiles\">")
            .Append(Tile("hit ratio (requests)", ConsoleHtml.Ratio(hits, hits + misses)))
            .Append(Tile("bytes saved", ConsoleHtml.Bytes(saved)))
            .Append(Tile("from upstream", ConsoleHtml.Bytes(hosts.Sum(host => host.BytesFromUpstream))))
            .Append("</div>\n<h3>Top hosts</h3>\n<div class=\"wide\"><table><tr><th>host</th><th class=\"n\">hits</th><th class=\"n\">misses</th><th class=\"n\">hit ratio</th><th class=\"n\">bytes saved</th></tr>\n");
        foreach (var host in hosts.OrderByDescending(host => host.BytesFromCache).ThenBy(host => host.Host, StringComparer.Ordinal).Take(10))
        {
            html.Append("<tr><td><a href=\"").Append(ConsoleHtml.Prefix).Append("browse/").Append(ConsoleHtml.PathUrl(host.Host)).Append("/\">").Append(ConsoleHtml.Encode(host.Host)).Append("</a></td>")
                .Append("<td class=\"n\">").Append(host.Hits).Append("</td><td class=\"n\">").Append(host.Misses).Append("</td>")
                .Append("<td class=\"n\">").Append(ConsoleHtml.Ratio(host.Hits, host.Hits + host.Misses)).Append("</td>")
                .Append("<td class=\"n\">").Append(ConsoleHtml.Bytes(host.BytesFromCache)).Append("</td></tr>\n");
        }

        html.Append("</table></div>\n");
    }

    /// <summary>Requests per minute, from the cache (blue) and from upstream (grey), as SVG bars.</summary>
    private static void AppendChart(StringBuilder html, IReadOnlyList<(DateTimeOffset Time, long FromCache, long FromUpstream)> samples)
    {
        html.Append("<h2>Requests per minute, last hours</h2>\n");
        if (samples.Count == 0)
        {
            html.Append("<p class=\"muted\">The first minute is not over yet.</p>\n");
            return;
        }

        const int Width = 720, Height = 120;
        var peak = Math.Max(1, samples.Max(sample => sample.FromCache + sample.FromUpstream));
        var bar = (double)Width / ActivityHistory.Minutes;
        html.Append(CultureInfo.InvariantCulture, $"<svg id=\"chart\" viewBox=\"0 0 {Width} {Height + 14}\" width=\"100%\" role=\"img\" aria-label=\"requests per minute\">");
        var offset = ActivityHistory.Minutes - samples.Count;
        for (var i = 0; i < samples.Count; i++)
        {
            var (_, fromCache, fromUpstream) = samples[i];
            var x = (offset + i) * bar;
            var cacheHeight = (double)fromCache / peak * Height;
            var upstreamHeight = (double)fromUpstream / peak * Height;
            html.Append(CultureInfo.InvariantCulture, $"<rect x=\"{x:0.##}\" y=\"{Height - cacheHeight:0.##}\" width=\"{bar:0.##}\" height=\"{cacheHeight:0.##}\" fill=\"#4a7bd0\"/>");
            html.Append(CultureInfo.InvariantCulture, $"<rect x=\"{x:0.##}\" y=\"{Height - cacheHeight - upstreamHeight:0.##}\" width=\"{bar:0.##}\" height=\"{upstreamHeight:0.##}\" fill=\"#a0a8b4\"/>");
        }

        html.Append(CultureInfo.InvariantCulture, $"<text x=\"0\" y=\"{Height + 12}\" font-size=\"10\">{ActivityHistory.Minutes / 60} h ago</text><text x=\"{Width}\" y=\"{Height + 12}\" font-size=\"10\" text-anchor=\"end\">now · peak {peak}/min</text></svg>\n");
    }

    /// <summary>Requests since start by file class (rows) and outcome (columns).</summary>
    private static void AppendCounts(StringBuilder html, IReadOnlyList<(FileClass Class, string Outcome, long Count)> counts)
    {
        var outcomes = counts.Select(count => count.Outcome).Distinct().Order(StringComparer.Ordinal).ToList();
        html.Append("<h2>Requests since start, by file class</h2>\n<table>\n<tr><th>class</th>");
        foreach (var outcome in outcomes)
        {
            html.Append("<th>").Append(ConsoleHtml.Encode(outcome)).Append("</th>");
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

    private static void AppendDownload(StringBuilder html, RunningDownload download) =>
        html.Append("<tr><td>").Append(ConsoleHtml.Encode(download.Url)).Append("</td><td class=\"n\">").Append(ConsoleHtml.Bytes(download.Received))
            .Append("</td><td class=\"n\">").Append(download.Total is { } total ? ConsoleHtml.Bytes(total) : "?")
            .Append("</td><td class=\"n\">").Append(ConsoleHtml.Bytes(download.RateBytesPerSecond)).Append("/s</td><td class=\"n\">").Append(download.Clients)
            .Append("</td><td class=\"n\">").Append(download.ResumedFrom > 0 ? ConsoleHtml.Bytes(download.ResumedFrom) : "–").Append("</td></tr>");

    private static string Tile(string label, string value) =>
        $"<div class=\"tile\">{ConsoleHtml.Encode(label)}<b>{ConsoleHtml.Encode(value)}</b></div>";

    /// <summary>The live part: the downloads table and the jobs, polled each second.</summary>
    private const string Script = """
        <script>
        const units = ["B", "KiB", "MiB", "GiB", "TiB"];
        function size(n) { let u = 0; while (n >= 1024 && u < units.length - 1) { n /= 1024; u++; } return (u ? Math.round(n * 10) / 10 : n) + " " + units[u]; }
        function cell(text, number) { const td = document.createElement("td"); td.textContent = text; if (number) td.className = "n"; return td; }
        async function refresh() {
          try {
            const downloads = await (await fetch("/.replicator/api/downloads", { cache: "no-store" })).json();
            const body = document.querySelector("#downloads tbody");
            body.replaceChildren(...downloads.map(d => {
              const tr = document.createElement("tr");
              tr.append(cell(d.url), cell(size(d.received), true), cell(d.total == null ? "?" : size(d.total), true),
                cell(size(d.rate_bytes_per_second) + "/s", true), cell(d.clients, true), cell(d.resumed_from ? size(d.resumed_from) : "–", true));
              return tr;
            }));
            const jobs = await (await fetch("/.replicator/api/jobs", { cache: "no-store" })).json();
            const list = document.querySelector("#jobs");
            if (list) list.replaceChildren(...jobs.map(j => { const li = document.createElement("li"); li.textContent = j.text; return li; }));
          } catch (e) { }
        }
        setInterval(refresh, 1000);
        </script>
        """;
}
