using System.Runtime.InteropServices;
using static Replicator.Fibers.Polling.Interop;

namespace Replicator.Fibers.Polling;

/// <summary>
/// Readiness from epoll, edge-triggered: a descriptor is added once for both directions, and the kernel reports each
/// new arrival of bytes (or of room) once, so a socket nobody waits on never spins the loop.
/// Why edges: the one-shot arming before cost one epoll_ctl per wait, which for a keep-alive connection is one per
/// request. A wait needs no system call when the fiber's own receive just drained the socket (EAGAIN, or a short
/// read of a stream: its queue was empty; <see cref="FdState.Drained"/>): whatever arrives later is a new edge. Any
/// other wait (the socket may hold bytes whose edge was reported while nobody waited) re-arms with EPOLL_CTL_MOD,
/// which reports the descriptor at once if it is ready now. The event's data is the descriptor number, mapped back
/// to its <see cref="FdState"/> by the loop's table.
/// </summary>
internal sealed unsafe class EpollPoller : Poller
{
    private const int MaxEvents = 256;

    private readonly int _epfd;
    private readonly int _wakeFd;
    private readonly Func<int, FdState?> _lookup;
    private readonly byte* _events;
    private int _disposed;

    public EpollPoller(int wakeFd, Func<int, FdState?> lookup)
    {
        _wakeFd = wakeFd;
        _lookup = lookup;
        _epfd = epoll_create1(EPOLL_CLOEXEC);
        if (_epfd < 0)
        {
            throw Error("epoll_create1");
        }

        _events = (byte*)NativeMemory.AllocZeroed((nuint)(MaxEvents * EpollEventSize));
        // The wake-up descriptor stays armed (level-triggered, not one-shot): a write always ends the wait.
        if (Control(EPOLL_CTL_ADD, wakeFd, EPOLLIN) != 0)
        {
            throw Error("epoll_ctl(ADD wake-up)");
        }
    }

    public override bool NeedsArming(FdState state, Readiness direction) =>
        !state.Registered || state.Ended || (state.Drained & direction) == 0;

    public override void Arm(FdState state)
    {
        const uint events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
        var op = state.Registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
        if (Control(op, state.Fd, events) != 0)
        {
            // The table can be stale: a closed descriptor leaves epoll by itself, and a new socket may reuse its number.
            var errno = Marshal.GetLastPInvokeError();
            var retry = errno == ENOENT ? EPOLL_CTL_ADD : errno == EEXIST ? EPOLL_CTL_MOD : 0;
            if (retry == 0 || Control(retry, state.Fd, events) != 0)
            {
                throw Error($"epoll_ctl(fd {state.Fd})");
            }
        }

        state.Registered = true;
        state.Armed = Readiness.Readable | Readiness.Writable;
    }

    public override bool Wait(int timeoutMs, List<(FdState State, Readiness Events)> ready)
    {
        int count;
        while ((count = epoll_wait(_epfd, _events, MaxEvents, timeoutMs)) < 0)
        {
            if (Marshal.GetLastPInvokeError() != EINTR)
            {
                throw Error("epoll_wait");
            }
        }

        var woke = false;
        for (var i = 0; i < count; i++)
        {
            var entry = _events + (i * EpollEventSize);
            var events = *(uint*)entry;
            var fd = (int)*(ulong*)(entry + EpollDataOffset);
            if (fd == _wakeFd)
            {
                woke = true;
                continue;
            }

            var state = _lookup(fd);
            if (state is null)
            {
                continue;
            }

            // An error or hang-up wakes both directions: the fiber's next call on the socket reports it.
            var failed = (events & (EPOLLERR | EPOLLHUP)) != 0;
            state.Ended |= failed || (events & EPOLLRDHUP) != 0;
            var readiness = ((events & EPOLLIN) != 0 || failed ? Readiness.Readable : Readiness.None)
                | ((events & EPOLLOUT) != 0 || failed ? Readiness.Writable : Readiness.None);
            state.Drained &= ~readiness;
            ready.Add((state, readiness));
        }

        return woke;
    }

    public override void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            close(_epfd);
            NativeMemory.Free(_events);
        }
    }

    private int Control(int op, int fd, uint events)
    {
        var ev = stackalloc byte[16];
        *(uint*)ev = events;
        *(ulong*)(ev + EpollDataOffset) = (ulong)(uint)fd;
        return epoll_ctl(_epfd, op, fd, ev);
    }
}
