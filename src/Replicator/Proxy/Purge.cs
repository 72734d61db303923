using Replicator.Cache;
using Serilog;

namespace Replicator.Proxy;

/// <summary>
/// <c>PURGE URL</c> (the squid and varnish habit, issue 14): removes what the cache holds for one URL (its body,
/// metadata and any stored answer), for the admin addresses only (--admin, loopback by default). 200 with what was
/// removed, 404 when nothing was stored, 403 for anyone else. A reader that had the file open finishes with it.
/// </summary>
internal static class Purge
{
    public const string Method = "PURGE";

    public const string Outcome = "PURGE";

    public static async ValueTask<string> RunAsync(Exchange exchange)
    {
        var server = exchange.Server;
        if (exchange.ClientAddress is not { } address || !server.Options.Admin.Allows(address))
        {
            Log.Warning("{Client:l} may not purge (not in --admin): {Url:l}", exchange.ClientName, exchange.Url!.ToString());
            await exchange.SendErrorAsync(403, "PURGE is allowed from the admin addresses only (--admin)");
            return Outcome;
        }

        var url = exchange.Url!;
        if (CacheLayout.RelativePath(url) is not { } natural)
        {
            await exchange.SendErrorAsync(404, $"{url} cannot be in the cache");
            return Outcome;
        }

        var relativePath = server.CacheOptions.Mapping.Map(natural);
        var store = server.Store;
        var removed = await exchange.Fiber.RunBlockingAsync(() => store.Remove(relativePath), Timeout.InfiniteTimeSpan);
        if (removed < 0)
        {
            await exchange.SendErrorAsync(404, $"{url} is not in the cache");
            return Outcome;
        }

        Log.Information("{Client:l} purged {Url:l} ({Bytes} bytes)", exchange.ClientName, url.ToString(), removed);
        await exchange.SendErrorAsync(200, $"purged {url} ({removed} bytes)");
        return Outcome;
    }
}
