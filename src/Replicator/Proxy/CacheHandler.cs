using Replicator.Cache;
using Replicator.Http;
using Serilog;

namespace Replicator.Proxy;

/// <summary>
/// GET and HEAD through the cache.
///
///   (1) not storable as a path, or the client says no-store      -> pass through
///   (2) the URL is downloading now                              -> follow that download       (MISS)
///   (3) stored, and offline / --static / fresh                  -> serve it                   (OFFLINE / HIT)
///   (4) stored but stale                                        -> conditional GET upstream:
///         304 -> refresh the metadata, serve it (REVALIDATED); 200 -> download anew (MISS);
///         unreachable -> serve it anyway (STALE) unless must-revalidate (504); other -> pass through
///   (5) not stored                                              -> GET upstream without the client's validators
///         storable 200 -> download into the cache and serve it while it lands (MISS); other -> pass through
/// HEAD is answered from a stored entry that may be served as it is, and passed through otherwise.
/// </summary>
internal static class CacheHandler
{
    private static readonly HashSet<string> s_clientValidators = new(StringComparer.OrdinalIgnoreCase)
    {
        "If-Modified-Since", "If-None-Match", "If-Range", "If-Match", "If-Unmodified-Since", "Range",
    };

    public static async ValueTask HandleAsync(Exchange exchange)
    {
        var server = exchange.Server;
        var settings = server.Settings;
        var request = exchange.Request;
        var url = exchange.Url!;
        var relativePath = CacheLayout.RelativePath(url);
        if (relativePath is null || CacheControl.Parse(request.Headers).Has("no-store"))
        {
            await Forwarder.PassThroughAsync(exchange);
            return;
        }

        if (request.Method == "GET" && server.Downloads.Find(relativePath) is { } running && running.Stored.MatchesVary(request.Headers) && running.TryAcquire())
        {
            exchange.Outcome = Outcomes.Miss;
            await Responder.ServeDownloadAsync(exchange, running);
            return;
        }

        var entry = server.Store.Lookup(relativePath);
        if (entry is not null && !entry.Response.MatchesVary(request.Headers))
        {
            // Stored for another variant: answer this one without disturbing what is stored.
            await Forwarder.PassThroughAsync(exchange);
            return;
        }

        var now = server.Clock.GetUtcNow();
        if (entry is not null && (settings.Offline || settings.Static || Freshness.IsFresh(entry.Response, request.Headers, now)))
        {
            exchange.Outcome = settings.Offline ? Outcomes.Offline : Outcomes.Hit;
            await Responder.ServeEntryAsync(exchange, entry, entry.Response);
            return;
        }

        if (request.Method == "HEAD")
        {
            await Forwarder.PassThroughAsync(exchange);
            return;
        }

        if (entry is not null)
        {
            await RevalidateAsync(exchange, entry, relativePath);
        }
        else
        {
            await FetchAsync(exchange, relativePath, Messages.EndToEnd(request.Headers, s_clientValidators.Contains));
        }
    }

    private static async ValueTask RevalidateAsync(Exchange exchange, CachedEntry entry, string relativePath)
    {
        var server = exchange.Server;
        var headers = Messages.EndToEnd(exchange.Request.Headers, s_clientValidators.Contains);
        if (entry.Response.ETag is { } etag)
        {
            headers.Add("If-None-Match", etag);
        }

        headers.Add("If-Modified-Since", HttpDate.Format(entry.Response.LastModified ?? entry.Response.BodyStamp));
        var requestTime = server.Clock.GetUtcNow();
        UpstreamConnection upstream;
        ResponseHead response;
        try
        {
            (upstream, response) = await Forwarder.ExchangeAsync(exchange, "GET", headers, Framing.None);
        }
        catch (ProxyException e) when (e.Status is 502 or 504)
        {
            if (Freshness.MustRevalidate(entry.Response))
            {
                throw new ProxyException(504, $"cannot revalidate {exchange.Url} (must-revalidate): {e.Message}");
            }

            Log.Warning("Serving stale {Url:l}: {Reason:l}", exchange.Url!.ToString(), e.Message);
            exchange.Outcome = Outcomes.Stale;
            await Responder.ServeEntryAsync(exchange, entry, entry.Response);
            return;
        }

        if (response.Status == 304)
        {
            Forwarder.Release(upstream, response, Framing.None);
            var refreshed = entry.Response.Synthesized
                ? entry.Response
                : entry.Response.Refreshed(response.Headers, requestTime, server.Clock.GetUtcNow());
            if (!entry.Response.Synthesized)
            {
                server.Store.UpdateMeta(relativePath, refreshed);
            }

            exchange.Outcome = Outcomes.Revalidated;
            await Responder.ServeEntryAsync(exchange, entry, refreshed);
            return;
        }

        await StoreOrRelayAsync(exchange, relativePath, upstream, response, requestTime);
    }

    private static async ValueTask FetchAsync(Exchange exchange, string relativePath, HttpHeaders headers)
    {
        var requestTime = exchange.Server.Clock.GetUtcNow();
        var (upstream, response) = await Forwarder.ExchangeAsync(exchange, "GET", headers, Framing.None);
        await StoreOrRelayAsync(exchange, relativePath, upstream, response, requestTime);
    }

    private static async ValueTask StoreOrRelayAsync(Exchange exchange, string relativePath, UpstreamConnection upstream, ResponseHead response, DateTimeOffset requestTime)
    {
        if (!Freshness.IsStorable(exchange.Request, response))
        {
            exchange.Outcome = Outcomes.Pass;
            await Forwarder.RelayResponseAsync(exchange, upstream, response);
            return;
        }

        var server = exchange.Server;
        var framing = response.BodyFraming("GET");
        var responseTime = server.Clock.GetUtcNow();
        var headers = StoredResponse.StorableFields(response.Headers);
        var stored = new StoredResponse
        {
            Headers = headers,
            RequestTime = requestTime,
            ResponseTime = responseTime,
            Length = framing.Kind == BodyKind.Length ? framing.Length : -1,
            BodyStamp = HttpDate.TryParse(headers["Last-Modified"], out var lastModified) ? lastModified : responseTime,
            Url = exchange.Url!.ToString(),
            VaryKey = StoredResponse.VaryKeyOf(response.Headers, exchange.Request.Headers),
        };
        var download = new Download(server, exchange.Url!, server.Store.BeginBody(relativePath), stored, framing.Kind == BodyKind.Length ? framing.Length : null);
        download.TryAcquire();
        download.Start(exchange.Fiber, upstream, response, framing);
        exchange.Outcome = Outcomes.Miss;
        await Responder.ServeDownloadAsync(exchange, download);
    }
}
