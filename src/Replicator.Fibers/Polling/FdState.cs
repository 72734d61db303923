using System.Runtime.InteropServices;

namespace Replicator.Fibers.Polling;

/// <summary>
/// One file descriptor as its loop sees it: who waits to read, who waits to write, and what the poller is armed for.
/// epoll watches it edge-triggered once registered, and <see cref="Drained"/> says which directions need no arming
/// before a wait; the poll backend arms one-shot. Either way a ready socket nobody waits on never spins the loop.
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

    /// <summary>
    /// The directions in which an operation found the socket drained (a receive that emptied its queue, a send that
    /// found no room) since the poller last reported them. For an edge-triggered poller these are the waits that need
    /// no system call: the kernel reports the next arrival (or room) as a new edge.
    /// </summary>
    public Readiness Drained { get; set; }

    /// <summary>
    /// The poller reported the peer's end (hang-up, error, or its half closed): the socket stays readable and no new
    /// edge will say so, even after a short read that took the last bytes before the end. Every later wait arms.
    /// </summary>
    public bool Ended { get; set; }

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
        Drained = Readiness.None;
        Ended = false;
        Registered = false;
    }

    public Readiness Wanted => (Reader is null ? Readiness.None : Readiness.Readable) | (Writer is null ? Readiness.None : Readiness.Writable);
}
