using Replicator.Cache;
using Replicator.Http;

namespace Replicator.Proxy;

/// <summary>
/// RFC 9111 section 4.4: a non-error answer to an unsafe request (anything but GET, HEAD, OPTIONS and TRACE, RFC
/// 9110 section 9.2.1) may have changed the resource, so what is stored for the target URI, and for the URIs its
/// Location and Content-Location name on the same host, must be validated before it is used again.
/// </summary>
internal static class Invalidation
{
    public static bool IsUnsafe(string method) => method is not ("GET" or "HEAD" or "OPTIONS" or "TRACE");

    /// <summary>Invalidates what the answer to an unsafe request may have changed (the metadata is written off the loop).</summary>
    public static async ValueTask AfterAsync(Exchange exchange, ResponseHead response)
    {
        if (!IsUnsafe(exchange.Request.Method) || response.Status is < 200 or >= 400)
        {
            return;
        }

        var url = exchange.Url!;
        var target = new Uri(url.ToString());
        var paths = new List<string>();
        AddPath(exchange, url, paths);
        foreach (var name in (string[])["Location", "Content-Location"])
        {
            if (response.Headers[name] is { } value && Uri.TryCreate(target, value, out var named)
                && named.Scheme == Uri.UriSchemeHttp && string.Equals(named.Authority, target.Authority, StringComparison.OrdinalIgnoreCase))
            {
                try
                {
                    AddPath(exchange, RequestUrl.ParseAbsolute(named.AbsoluteUri), paths);
                }
                catch (HttpParseException)
                {
                    // Not a URL this proxy would cache under: nothing stored to invalidate.
                }
            }
        }

        var store = exchange.Server.Store;
        await CacheWrites.TryAsync(exchange.Fiber, store, () => paths.ForEach(store.Invalidate), $"invalidating what is stored for {url}");
    }

    private static void AddPath(Exchange exchange, RequestUrl url, List<string> paths)
    {
        if (CacheLayout.RelativePath(url) is { } natural)
        {
            paths.Add(exchange.Server.CacheOptions.Mapping.Map(natural));
        }
    }
}
