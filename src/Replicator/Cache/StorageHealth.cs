using Serilog;

namespace Replicator.Cache;

/// <summary>
/// Whether the cache tree takes writes. A write that fails (a full disk, a root remounted read-only, an I/O error)
/// is reported here; for a pause after it, new downloads are not attempted (their responses are passed through
/// uncached, the cached copies still served), then writing is tried again, so the proxy recovers on its own once
/// space is back. One warning per failure and pause, never one per request.
/// </summary>
internal sealed class StorageHealth(TimeProvider clock)
{
    public static readonly TimeSpan Pause = TimeSpan.FromSeconds(30);

    private long _retryAt = long.MinValue;
    private int _failed;

    /// <summary>False during the pause after a failure.</summary>
    public bool MayWrite => clock.GetTimestamp() >= Interlocked.Read(ref _retryAt);

    public void Failed(string what, Exception error)
    {
        Interlocked.Exchange(ref _retryAt, clock.GetTimestamp() + (long)(Pause.TotalSeconds * clock.TimestampFrequency));
        Interlocked.Exchange(ref _failed, 1);
        Log.Warning("The cache cannot be written ({What:l}: {Reason:l}): responses are passed through uncached; trying again in {Seconds} s", what, error.Message, Pause.TotalSeconds);
    }

    public void Succeeded()
    {
        if (Interlocked.Exchange(ref _failed, 0) == 1)
        {
            Log.Information("The cache can be written again");
        }
    }

    /// <summary>Whether an exception is the file system's (and so the cache's storage) failing.</summary>
    public static bool IsStorageError(Exception error) => error is IOException or UnauthorizedAccessException;
}
