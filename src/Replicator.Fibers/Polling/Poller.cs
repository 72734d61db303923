namespace Replicator.Fibers.Polling;

/// <summary>
/// The readiness backend of one loop. Both backends keep one promise, so one test suite runs over both: a fiber that
/// waits on a descriptor hears when it becomes ready, and a ready descriptor nobody waits on never spins the loop.
/// The poll backend arms one-shot for what the waiters want; epoll watches edge-triggered and arms only a wait it
/// cannot prove the next edge will end (<see cref="NeedsArming"/>). The wake-up descriptor (eventfd) is polled too,
/// so another thread can end a wait early.
/// </summary>
internal abstract class Poller : IDisposable
{
    /// <summary>Arms <paramref name="state"/> for <see cref="FdState.Wanted"/>.</summary>
    public abstract void Arm(FdState state);

    /// <summary>Whether a new wait in <paramref name="direction"/> needs <see cref="Arm"/> before it can be woken.</summary>
    public virtual bool NeedsArming(FdState state, Readiness direction) => (state.Armed & direction) == 0;

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
