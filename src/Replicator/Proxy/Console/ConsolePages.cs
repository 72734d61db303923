using System.Text;
using System.Text.Json;
using Replicator.Http;

namespace Replicator.Proxy.Console;

/// <summary>
/// The web console (issue 16) on the proxy's port, under a prefix no proxied URL can take ("/" and /.replicator/:
/// no host name starts with a dot): the dashboard, the cache browser, the live downloads, and the admin's actions.
/// Reading is for the clients the proxy admits (--ip); actions are POSTs from the --admin addresses with the
/// console's anti-CSRF token. Pages are built on the loop from memory; what reads the disk or the usage database runs
/// off the loop.
/// </summary>
internal static class ConsolePages
{
    private static readonly JsonSerializerOptions s_json = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public static async ValueTask<string> SendAsync(Exchange exchange)
    {
        var request = exchange.Request;
        var (path, query) = Split(request.Target);
        if (request.Method == "POST")
        {
            return await ConsoleActions.RunAsync(exchange, path[ConsoleHtml.Prefix.Length..]);
        }

        if (request.Method is not ("GET" or "HEAD"))
        {
            throw new ProxyException(FailedStep.ClientRequest, "this is a proxy: send requests for other servers in absolute form (GET http://host/path)");
        }

        if (path is "/" or ConsoleHtml.Prefix)
        {
            // Off the loop: the totals since the cache was created come from the usage database.
            var page = await exchange.Fiber.RunBlockingAsync(() => Dashboard.Render(exchange.Server, exchange.ClientAddress, query.GetValueOrDefault("message")), Timeout.InfiniteTimeSpan);
            return await SendHtmlAsync(exchange, page);
        }

        if (!path.StartsWith(ConsoleHtml.Prefix, StringComparison.Ordinal))
        {
            throw new ProxyException(FailedStep.NoSuchPage, $"{path} is not a page of this proxy");
        }

        var rest = path[ConsoleHtml.Prefix.Length..];
        var slash = rest.IndexOf('/');
        var section = slash < 0 ? rest : rest[..slash];
        var below = slash < 0 ? string.Empty : Uri.UnescapeDataString(rest[(slash + 1)..]);
        if (!IsCachePath(below))
        {
            // Nothing outside the tree's hosts is shown or served: no "..", no absolute path, not the proxy's own area.
            throw new ProxyException(FailedStep.NoSuchPage, $"{below} is not a path of the cache");
        }

        return section switch
        {
            "browse" => await SendHtmlAsync(exchange, await exchange.Fiber.RunBlockingAsync(() => CacheBrowser.Directory(exchange.Server, below, query, exchange.ClientAddress), Timeout.InfiniteTimeSpan)),
            "file" => await SendHtmlAsync(exchange, await exchange.Fiber.RunBlockingAsync(() => CacheBrowser.File(exchange.Server, below, exchange.ClientAddress, query.GetValueOrDefault("message")), Timeout.InfiniteTimeSpan)),
            "headers" => await CacheBrowser.SendHeadersAsync(exchange, below),
            "raw" => await CacheBrowser.SendRawAsync(exchange, below),
            "api" when below == "downloads" => await SendJsonAsync(exchange, Dashboard.Downloads(exchange.Server)),
            "api" when below == "jobs" => await SendJsonAsync(exchange, ConsoleActions.Jobs(exchange.Server)),
            _ => throw new ProxyException(FailedStep.NoSuchPage, $"{path} is not a page of this proxy"),
        };
    }

    /// <summary>A path below the cache root that names a host's file or directory (or nothing: the root).</summary>
    public static bool IsCachePath(string path) =>
        !path.StartsWith('/') && !path.Contains('\0', StringComparison.Ordinal) && !path.Contains('\\', StringComparison.Ordinal)
        && !path.Split('/').Any(segment => segment is "." or "..") && !path.StartsWith(Cache.CacheLayout.PrivateDirectory, StringComparison.Ordinal);

    public static ValueTask<string> SendHtmlAsync(Exchange exchange, string html) =>
        SendBodyAsync(exchange, 200, "text/html; charset=utf-8", Encoding.UTF8.GetBytes(html));

    public static ValueTask<string> SendJsonAsync<T>(Exchange exchange, T value) =>
        SendBodyAsync(exchange, 200, "application/json", JsonSerializer.SerializeToUtf8Bytes(value, s_json));

    public static ValueTask<string> SendTextAsync(Exchange exchange, string text) =>
        SendBodyAsync(exchange, 200, "text/plain; charset=utf-8", Encoding.UTF8.GetBytes(text));

    /// <summary>After an action: back to a page (303, so that a reload does not post again), with a message.</summary>
    public static async ValueTask<string> RedirectAsync(Exchange exchange, string location, string message)
    {
        var headers = new HttpHeaders();
        var separator = location.Contains('?', StringComparison.Ordinal) ? '&' : '?';
        headers.Add("Location", $"{location}{separator}message={Uri.EscapeDataString(message)}");
        headers.Add("Cache-Control", "no-store");
        exchange.Respond(303);
        await exchange.SendAsync(HeadWriter.Response(303, "See Other", headers, new Framing(BodyKind.Length, 0), exchange.KeepAlive));
        return Outcomes.Hit;
    }

    /// <summary>A whole answer of the proxy's own (a page, JSON, /metrics): not stored by anyone, not framed in any page.</summary>
    public static async ValueTask<string> SendBodyAsync(Exchange exchange, int status, string contentType, byte[] body)
    {
        var headers = new HttpHeaders();
        headers.Add("Content-Type", contentType);
        headers.Add("Cache-Control", "no-store");
        headers.Add("X-Frame-Options", "DENY");
        exchange.Respond(status);
        var head = HeadWriter.Response(status, HeadWriter.ReasonPhrase(status), headers, new Framing(BodyKind.Length, body.Length), exchange.KeepAlive);
        await exchange.SendAsync(exchange.Request.Method == "HEAD" ? head : [.. head, .. body]);
        return Outcomes.Hit;
    }

    /// <summary>The target's path and its query's fields (URL-decoded).</summary>
    private static (string Path, Dictionary<string, string> Query) Split(string target)
    {
        var question = target.IndexOf('?');
        return question < 0 ? (target, []) : (target[..question], Form(target[(question + 1)..]));
    }

    /// <summary>application/x-www-form-urlencoded fields (a query, or a POST's body).</summary>
    public static Dictionary<string, string> Form(string text)
    {
        var fields = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var pair in text.Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var equals = pair.IndexOf('=');
            var name = Decode(equals < 0 ? pair : pair[..equals]);
            fields[name] = equals < 0 ? string.Empty : Decode(pair[(equals + 1)..]);
        }

        return fields;

        static string Decode(string value) => Uri.UnescapeDataString(value.Replace('+', ' '));
    }
}
