using Replicator.Cache;
using Replicator.Fibers;

namespace Replicator.Proxy;

/// <summary>
/// A write of the cache made while answering (metadata after a 304 or a HEAD, a stored 301 or 404, an invalidation):
/// off the loop, since every such write is fsynced; skipped while <see cref="StorageHealth"/> pauses writes; a
/// storage failure is reported there once and costs the client nothing.
/// </summary>
internal static class CacheWrites
{
    public static async ValueTask TryAsync(Fiber fiber, CacheStore store, Action write, string what)
    {
        if (!store.Health.MayWrite)
        {
            return;
        }

        try
        {
            await fiber.RunBlockingAsync(() =>
            {
                write();
                return 0;
            }, Timeout.InfiniteTimeSpan);
        }
        catch (Exception e) when (StorageHealth.IsStorageError(e))
        {
            store.Health.Failed(what, e);
        }
    }
}
