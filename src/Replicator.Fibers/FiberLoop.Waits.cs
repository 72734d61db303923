using System.Net.Sockets;
using Replicator.Fibers.Polling;

namespace Replicator.Fibers;

/// <summary>
/// The wait points: each begins a wait on the fiber's one <see cref="FiberWaiter"/> and registers what ends it (a
/// socket's readiness, a deadline, a signal, a posted completion). Whatever ends a wait first, <see cref="Finish"/>
/// undoes the rest, so a wait never completes twice.
/// </summary>
public sealed partial class FiberLoop
{
    private readonly ITimer? _clockTimer;
    private long _clockTimerDeadline = long.MaxValue;

    /// <param name="drained">The fiber's own call just found the socket drained that way (EAGAIN): see <see cref="NoteDrained"/>.</param>
    internal ValueTask BeginFdWait(FiberWaiter waiter, Socket socket, Readiness direction, TimeSpan timeout, bool interruptOnStop, bool drained = false)
    {
        CheckLoopThread();
        var handle = socket.SafeHandle;
        var fd = (int)handle.DangerousGetHandle();
        var state = GetFdState(fd);
        var current = direction == Readiness.Readable ? state.Reader : state.Writer;
        if (current is not null)
        {
            throw new InvalidOperationException($"fiber {current.Fiber} already waits for {direction} on fd {fd}");
        }

        var task = waiter.Begin(direction == Readiness.Readable ? WaitKind.Readable : WaitKind.Writable, interruptOnStop);
        if (RefusesWait(interruptOnStop))
        {
            CompleteSoon(waiter, new FiberStoppedException());
            return task;
        }

        if (direction == Readiness.Readable)
        {
            state.Reader = waiter;
        }
        else
        {
            state.Writer = waiter;
        }

        waiter.Fd = state;
        state.Adopt(handle);
        if (drained)
        {
            state.Drained |= direction;
        }

        if (_poller.NeedsArming(state, direction))
        {
            Arm(state);
        }

        SetDeadline(waiter, timeout);
        return task;
    }

    /// <summary>
    /// Records that an operation on <paramref name="socket"/> just found it drained in <paramref name="direction"/>
    /// without waiting (a short read of a stream), so the next wait that way can rely on the next edge.
    /// </summary>
    internal void NoteDrained(Socket socket, Readiness direction)
    {
        var handle = socket.SafeHandle;
        var state = GetFdState((int)handle.DangerousGetHandle());
        state.Adopt(handle);
        state.Drained |= direction;
    }

    internal ValueTask BeginSleep(FiberWaiter waiter, TimeSpan delay)
    {
        CheckLoopThread();
        var task = waiter.Begin(WaitKind.Sleep, interruptOnStop: false);
        if (RefusesWait(interruptOnStop: false))
        {
            CompleteSoon(waiter, new FiberStoppedException());
        }
        else if (delay <= TimeSpan.Zero)
        {
            CompleteSoon(waiter, null);
        }
        else
        {
            SetDeadline(waiter, delay);
        }

        return task;
    }

    internal ValueTask BeginYield(FiberWaiter waiter)
    {
        CheckLoopThread();
        var task = waiter.Begin(WaitKind.Yield, interruptOnStop: false);
        CompleteSoon(waiter, null);
        return task;
    }

    internal ValueTask BeginSignalWait(FiberWaiter waiter, FiberSignal signal, long seenGeneration, TimeSpan timeout)
    {
        CheckLoopThread();
        var task = waiter.Begin(WaitKind.Signal, interruptOnStop: false);
        if (RefusesWait(interruptOnStop: false))
        {
            CompleteSoon(waiter, new FiberStoppedException());
        }
        else if (!signal.TryAdd(waiter, seenGeneration))
        {
            CompleteSoon(waiter, null);
        }
        else
        {
            waiter.Signal = signal;
            SetDeadline(waiter, timeout);
        }

        return task;
    }

    internal ValueTask BeginBlocking(FiberWaiter waiter, TimeSpan timeout)
    {
        CheckLoopThread();
        var task = waiter.Begin(WaitKind.Blocking, interruptOnStop: false);
        SetDeadline(waiter, timeout);
        return task;
    }

    /// <summary>Queues a completed wait's continuation to run on this loop.</summary>
    internal void QueueResume(FiberWaiter waiter) => _ready.Enqueue(new LoopWork(LoopWorkKind.Resume, waiter));

    /// <summary>Any thread: completes the wait identified by (waiter, token) on the waiter's loop, if still current.</summary>
    internal void CompleteFromAnyThread(FiberWaiter waiter, short token, Exception? error)
    {
        var work = new LoopWork(LoopWorkKind.Complete, waiter, token, error);
        if (IsLoopThread)
        {
            _ready.Enqueue(work);
        }
        else
        {
            PostWork(work);
        }
    }

    private void CompleteSoon(FiberWaiter waiter, Exception? error) =>
        _ready.Enqueue(new LoopWork(LoopWorkKind.Complete, waiter, waiter.Token, error));

    private void CompleteWait(FiberWaiter waiter, Exception? error)
    {
        Finish(waiter, error);
        QueueResume(waiter);
    }

    /// <summary>Ends a pending wait: unregisters it from whatever else could end it, then records the outcome.</summary>
    private void Finish(FiberWaiter waiter, Exception? error)
    {
        switch (waiter.Kind)
        {
            // A wait refused at its start (the engine is stopping) never got as far as the descriptor.
            case WaitKind.Readable when waiter.Fd is { } fd && fd.Reader == waiter:
                fd.Reader = null;
                break;
            case WaitKind.Writable when waiter.Fd is { } fd && fd.Writer == waiter:
                fd.Writer = null;
                break;
            case WaitKind.Signal:
                waiter.Signal?.Remove(waiter);
                break;
        }

        _deadlines.Remove(waiter);
        waiter.SetCompleted(error);
    }

    private void SetDeadline(FiberWaiter waiter, TimeSpan timeout)
    {
        if (timeout == Timeout.InfiniteTimeSpan)
        {
            return;
        }

        waiter.Timeout = timeout;
        waiter.Deadline = TimeProvider.GetTimestamp() + ToTimestampUnits(timeout);
        _deadlines.Insert(waiter);
    }

    private void ExpireDeadlines()
    {
        if (_deadlines.Count == 0 && _graceDeadline == long.MaxValue)
        {
            return;
        }

        var now = TimeProvider.GetTimestamp();
        while (_deadlines.Peek() is { } waiter && waiter.Deadline <= now)
        {
            CompleteWait(waiter, waiter.Kind == WaitKind.Sleep ? null : TimeoutError(waiter));
        }

        if (now >= _graceDeadline)
        {
            _graceDeadline = long.MaxValue;
            _graceOver = true;
            InterruptWaits(all: true);
        }
    }

    /// <summary>Milliseconds the poller may block: 0 with work ready, -1 with nothing to time out.</summary>
    private int NextTimeoutMs()
    {
        if (_ready.Count > 0)
        {
            return 0;
        }

        var next = Math.Min(_deadlines.Peek()?.Deadline ?? long.MaxValue, _graceDeadline);
        if (next == long.MaxValue)
        {
            return -1;
        }

        var remaining = next - TimeProvider.GetTimestamp();
        if (remaining <= 0)
        {
            return 0;
        }

        if (_clockTimer is not null && next != _clockTimerDeadline)
        {
            _clockTimerDeadline = next;
            _clockTimer.Change(TimeProvider.GetElapsedTime(0, remaining), Timeout.InfiniteTimeSpan);
        }

        var ms = Math.Ceiling(remaining * 1000.0 / TimeProvider.TimestampFrequency);
        return ms >= int.MaxValue ? int.MaxValue : (int)ms;
    }

    private long ToTimestampUnits(TimeSpan span) =>
        (long)(span.Ticks * ((double)TimeProvider.TimestampFrequency / TimeSpan.TicksPerSecond));

    private static FiberTimeoutException TimeoutError(FiberWaiter waiter) => new(waiter.Kind switch
    {
        WaitKind.Readable => $"timed out after {waiter.Timeout.TotalSeconds:0.###} s waiting to receive",
        WaitKind.Writable => $"timed out after {waiter.Timeout.TotalSeconds:0.###} s waiting to send",
        WaitKind.Signal => $"timed out after {waiter.Timeout.TotalSeconds:0.###} s waiting for a signal",
        _ => $"timed out after {waiter.Timeout.TotalSeconds:0.###} s waiting for blocking work",
    });

    private void CheckLoopThread()
    {
        if (!IsLoopThread)
        {
            throw new InvalidOperationException("a fiber can only wait on its own loop thread (was ConfigureAwait(false) used?)");
        }
    }
}
