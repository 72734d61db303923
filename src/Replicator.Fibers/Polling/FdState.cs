namespace Replicator.Fibers.Polling;

/// <summary>
/// One file descriptor as its loop sees it: who waits to read, who waits to write, and what the poller is armed for.
/// Arming is one-shot (EPOLLONESHOT, or the poll backend's emulation of it): after an event the descriptor is
/// disarmed until a fiber waits on it again, so a ready socket nobody waits on never spins the loop.
/// </summary>
internal sealed class FdState
{
    public FdState(int fd)
    {
        Fd = fd;
    }

    public int Fd { get; }

    public FiberWaiter? Reader { get; set; }

    public FiberWaiter? Writer { get; set; }

    /// <summary>What the kernel currently reports for this descriptor; None when disarmed.</summary>
    public Readiness Armed { get; set; }

    /// <summary>Whether epoll knows the descriptor (ADD done and not known to be closed).</summary>
    public bool Registered { get; set; }

    /// <summary>Slot in the poll backend's armed list, or -1.</summary>
    public int PollIndex { get; set; } = -1;

    public Readiness Wanted => (Reader is null ? Readiness.None : Readiness.Readable) | (Writer is null ? Readiness.None : Readiness.Writable);
}
