namespace Replicator.Fibers.Polling;

/// <summary>
/// The readiness backend of one loop. Both backends behave alike (one-shot, level-triggered), so one test suite
/// runs over both: arm a descriptor for what its waiters want, then <see cref="Wait"/> reports what became ready
/// and disarms it. The wake-up descriptor (eventfd) is polled too, so another thread can end a wait early.
/// </summary>
internal abstract class Poller : IDisposable
{
    /// <summary>Arms <paramref name="state"/> for <see cref="FdState.Wanted"/>.</summary>
    public abstract void Arm(FdState state);

    /// <summary>
    /// Blocks up to <paramref name="timeoutMs"/> (-1: forever) and adds each ready descriptor to
    /// <paramref name="ready"/> with what it is ready for. Returns whether the wake-up descriptor fired.
    /// </summary>
    public abstract bool Wait(int timeoutMs, List<(FdState State, Readiness Events)> ready);


    public abstract void Dispose();

    public static Poller Create(PollerKind kind, int wakeFd, Func<int, FdState?> lookup) => kind switch
    {
        PollerKind.Epoll => new EpollPoller(wakeFd, lookup),
        PollerKind.Poll => new PollPoller(wakeFd),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown poller"),
    };
}
