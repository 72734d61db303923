using Replicator.Cache;
using Replicator.Http;
using Serilog;

namespace Replicator.Proxy;

/// <summary>
/// stale-while-revalidate (RFC 5861 section 3): the client got the stale copy at once; a fiber of its own asks the
/// origin with the stored validators. A 304 refreshes the metadata; a new storable body is downloaded into the cache
/// (finishing by the usual rule for a download nobody follows); anything else leaves the copy to go stale for good.
/// One background revalidation per URL at a time.
/// </summary>
internal static class BackgroundRevalidation
{


    public static void Start(Exchange exchange, CachedEntry entry, string relativePath)
    {
        var server = exchange.Server;
        if (!server.BackgroundRevalidations.TryAdd(relativePath, 0))
        {
            return;
        }

        var request = exchange.Request;
        var url = exchange.Url!;
        exchange.Fiber.Loop.Spawn($"revalidate {url}", async fiber =>
        {
            try
            {
                var background = exchange.InBackground(fiber, request, url);
                await RevalidateAsync(background, entry, relativePath);
            }
            catch (Exception e) when (e is ProxyException or IOException or Fibers.FiberTimeoutException or System.Net.Sockets.SocketException)
            {
                Log.Information("Background revalidation of {Url:l} failed: {Reason:l}", url.ToString(), e.Message);
            }
            finally
            {
                server.BackgroundRevalidations.TryRemove(relativePath, out _);
            }
        });
    }

    private static async ValueTask RevalidateAsync(Exchange background, CachedEntry entry, string relativePath)
    {
        var server = background.Server;
        var headers = CacheHandler.RevalidationFields(background.Request, entry.Response);
        var requestTime = server.Clock.GetUtcNow();
        var answer = await server.Origin.ExchangeAsync(background, "GET", headers, Framing.None);
        var (upstream, response) = answer;
        if (response.Status == 304)
        {
            OriginClient.Release(upstream, response, Framing.None);
            var refreshed = entry.Response.Refreshed(response.Headers, requestTime, server.Clock.GetUtcNow());
            await CacheWrites.TryAsync(background.Fiber, server.Store, () => server.Store.UpdateMeta(relativePath, refreshed), $"updating the metadata of {background.Url}");
            Log.Information("Revalidated {Url:l} in the background", background.Url!.ToString());
            return;
        }

        if (response.Status == 200 && Freshness.IsStorable(background.Request, response))
        {
            var download = new Download(server, background.Url!, relativePath, background.FileClass);
            if (server.Downloads.Register(download) == download && await download.StartAsync(background, answer, requestTime, resumeFrom: 0, headers) is null)
            {
                Log.Information("Downloading the new body of {Url:l} in the background", background.Url!.ToString());
                return;
            }
        }

        upstream.Dispose();
    }
}
