using System.Runtime.InteropServices;
using static Replicator.Fibers.Polling.Interop;

namespace Replicator.Fibers.Polling;

/// <summary>
/// The portable backend: poll(2) over every armed descriptor. It emulates epoll's one-shot arming (a descriptor
/// leaves the armed list when it reports), so it passes the same tests. Its cost per turn grows with the number of
/// waiting sockets, which is why epoll is the default.
/// </summary>
internal sealed unsafe class PollPoller : Poller
{
    private readonly int _wakeFd;
    private readonly List<FdState> _armed = [];
    private PollFd[] _fds = new PollFd[64];

    public PollPoller(int wakeFd)
    {
        _wakeFd = wakeFd;
    }

    public override void Arm(FdState state)
    {
        if (state.PollIndex < 0)
        {
            state.PollIndex = _armed.Count;
            _armed.Add(state);
        }

        state.Armed = state.Wanted;
    }

    public override bool Wait(int timeoutMs, List<(FdState State, Readiness Events)> ready)
    {
        // A wait that ended by its deadline or an interruption leaves its descriptor here. Polling it anyway would
        // be worse than a spurious wake: a blocked poll(2) holds a reference to every file it polls, so a socket
        // closed meanwhile (or a newer socket that took its number, perhaps another loop's) would stay open, its
        // peer never seeing the end, until this poll returns. Only descriptors someone waits on are polled.
        for (var i = _armed.Count - 1; i >= 0; i--)
        {
            var state = _armed[i];
            state.Armed = state.Wanted;
            if (state.Armed == Readiness.None)
            {
                Disarm(state);
            }
        }

        var count = _armed.Count + 1;
        if (_fds.Length < count)
        {
            _fds = new PollFd[Math.Max(count, _fds.Length * 2)];
        }

        _fds[0] = new PollFd { Fd = _wakeFd, Events = POLLIN };
        for (var i = 0; i < _armed.Count; i++)
        {
            var armed = _armed[i].Armed;
            _fds[i + 1] = new PollFd
            {
                Fd = _armed[i].Fd,
                Events = (short)(((armed & Readiness.Readable) != 0 ? POLLIN : 0) | ((armed & Readiness.Writable) != 0 ? POLLOUT : 0)),
            };
        }

        int result;
        fixed (PollFd* fds = _fds)
        {
            while ((result = poll(fds, (nuint)count, timeoutMs)) < 0)
            {
                if (Marshal.GetLastPInvokeError() != EINTR)
                {
                    throw Error("poll");
                }
            }
        }

        var woke = (_fds[0].REvents & POLLIN) != 0;
        if (result == 0)
        {
            return woke;
        }

        // Walk backwards so removing a reported descriptor (swap with the last) never skips one.
        for (var i = count - 1; i >= 1; i--)
        {
            var revents = _fds[i].REvents;
            if (revents == 0)
            {
                continue;
            }

            var state = _armed[i - 1];
            Disarm(state);
            var failed = (revents & (POLLERR | POLLHUP | POLLNVAL)) != 0;
            var readiness = ((revents & POLLIN) != 0 || failed ? Readiness.Readable : Readiness.None)
                | ((revents & POLLOUT) != 0 || failed ? Readiness.Writable : Readiness.None);
            ready.Add((state, readiness));
        }

        return woke;
    }

    public override void Dispose()
    {
    }

    private void Disarm(FdState state)
    {
        var index = state.PollIndex;
        var last = _armed.Count - 1;
        if (index != last)
        {
            _armed[index] = _armed[last];
            _armed[index].PollIndex = index;
        }

        _armed.RemoveAt(last);
        state.PollIndex = -1;
        state.Armed = Readiness.None;
    }
}
