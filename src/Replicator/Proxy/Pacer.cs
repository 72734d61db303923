using Replicator.Fibers;

namespace Replicator.Proxy;

/// <summary>
/// --limit: keeps one upstream transfer at or under a rate by sleeping (on the fiber's clock) whenever the bytes
/// read so far are ahead of what the rate allows since the transfer began. Per transfer, as the original's --limit.
/// </summary>
internal sealed class Pacer
{
    private readonly long _bytesPerSecond;
    private readonly long _started;

    public Pacer(long bytesPerSecond, Fiber fiber)
    {
        _bytesPerSecond = bytesPerSecond;
        _started = fiber.Loop.TimeProvider.GetTimestamp();
    }

    /// <summary>A pacer, or null when there is no limit.</summary>
    public static Pacer? For(long bytesPerSecond, Fiber fiber) => bytesPerSecond > 0 ? new Pacer(bytesPerSecond, fiber) : null;

    public ValueTask PaceAsync(Fiber fiber, long bytesSoFar)
    {
        var due = TimeSpan.FromSeconds((double)bytesSoFar / _bytesPerSecond);
        var elapsed = fiber.Loop.TimeProvider.GetElapsedTime(_started);
        return due > elapsed ? fiber.SleepAsync(due - elapsed) : ValueTask.CompletedTask;
    }
}
