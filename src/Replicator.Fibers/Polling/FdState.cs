using System.Runtime.InteropServices;

namespace Replicator.Fibers.Polling;

/// <summary>
/// One file descriptor as its loop sees it: who waits to read, who waits to write, and what the poller is armed for.
/// Arming is one-shot (EPOLLONESHOT, or the poll backend's emulation of it): after an event the descriptor is
/// disarmed until a fiber waits on it again, so a ready socket nobody waits on never spins the loop.
/// The table is indexed by number, and the kernel gives a closed socket's number to the next one at once: a state
/// belongs to one socket (<see cref="Owner"/>), and a wait on another socket with that number starts it afresh
/// (a wait that ended by its deadline leaves the state armed, and the newcomer must not inherit that).
/// </summary>
internal sealed class FdState
{
    public FdState(int fd)
    {
        Fd = fd;
    }

    public int Fd { get; }

    /// <summary>The socket's handle this state describes; another handle with the same number is a new socket.</summary>
    public SafeHandle? Owner { get; private set; }

    public FiberWaiter? Reader { get; set; }

    public FiberWaiter? Writer { get; set; }

    /// <summary>What the kernel currently reports for this descriptor; None when disarmed.</summary>
    public Readiness Armed { get; set; }

    /// <summary>Whether epoll knows the descriptor (ADD done and not known to be closed).</summary>
    public bool Registered { get; set; }

    /// <summary>Slot in the poll backend's armed list, or -1.</summary>
    public int PollIndex { get; set; } = -1;

    /// <summary>Makes this state describe <paramref name="owner"/>: a new socket is neither armed nor registered.</summary>
    public void Adopt(SafeHandle owner)
    {
        if (ReferenceEquals(Owner, owner))
        {
            return;
        }

        Owner = owner;
        Armed = Readiness.None;
        Registered = false;
    }

    public Readiness Wanted => (Reader is null ? Readiness.None : Readiness.Readable) | (Writer is null ? Readiness.None : Readiness.Writable);
}
