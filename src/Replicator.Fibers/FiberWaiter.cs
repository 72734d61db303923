using System.Runtime.ExceptionServices;
using System.Threading.Tasks.Sources;
using Replicator.Fibers.Polling;

namespace Replicator.Fibers;

/// <summary>What a fiber is suspended on.</summary>
internal enum WaitKind : byte
{
    None,
    Readable,
    Writable,
    Sleep,
    Yield,
    Signal,
    Blocking,
}

/// <summary>
/// The one wait object of a fiber, reused for every wait point so that waiting allocates nothing. It is the
/// <see cref="IValueTaskSource"/> behind every <see cref="ValueTask"/> a wait returns; a version number (the token)
/// tells a current wait from a stale completion. All of its state is touched on the fiber's loop thread only;
/// other threads complete it by posting to that loop.
///
/// It doubles as the fiber's <see cref="SynchronizationContext"/> (one object less per fiber): a continuation the
/// fiber did not expect to leave the loop (an awaited Task, a nested async method) comes back to the same loop, as
/// the same fiber, instead of running on the thread pool.
/// </summary>
internal sealed class FiberWaiter : SynchronizationContext, IValueTaskSource
{
    private Action<object?>? _continuation;
    private object? _continuationState;
    private Exception? _error;
    private bool _completed;

    public FiberWaiter(Fiber fiber)
    {
        Fiber = fiber;
    }

    public Fiber Fiber { get; }

    public short Token { get; private set; }

    public WaitKind Kind { get; private set; }

    /// <summary>Whether a stop request ends this wait at once instead of after the grace period.</summary>
    public bool InterruptOnStop { get; private set; }

    /// <summary>When the wait times out, in the loop clock's timestamp units; valid while in the heap.</summary>
    public long Deadline { get; set; }

    /// <summary>The timeout the wait was given, for the timeout message.</summary>
    public TimeSpan Timeout { get; set; }

    /// <summary>Position in the loop's <see cref="DeadlineHeap"/>, or -1.</summary>
    public int HeapIndex { get; set; } = -1;

    public FdState? Fd { get; set; }

    public FiberSignal? Signal { get; set; }

    public bool IsPending => Kind != WaitKind.None && !_completed;

    public ValueTask Begin(WaitKind kind, bool interruptOnStop)
    {
        if (Kind != WaitKind.None)
        {
            throw new InvalidOperationException($"fiber {Fiber} is already waiting ({Kind}); a fiber waits at one point at a time");
        }

        Kind = kind;
        InterruptOnStop = interruptOnStop;
        return new ValueTask(this, Token);
    }

    /// <summary>Marks the wait done; the loop then queues <see cref="Resume"/>.</summary>
    public void SetCompleted(Exception? error)
    {
        _error = error;
        _completed = true;
        Fd = null;
        Signal = null;
    }

    /// <summary>Runs the fiber's continuation, if it has awaited already.</summary>
    public void Resume()
    {
        var continuation = _continuation;
        if (continuation is not null)
        {
            _continuation = null;
            continuation(_continuationState);
        }
    }

    public ValueTaskSourceStatus GetStatus(short token)
    {
        CheckToken(token);
        return !_completed ? ValueTaskSourceStatus.Pending
            : _error is null ? ValueTaskSourceStatus.Succeeded
            : _error is OperationCanceledException ? ValueTaskSourceStatus.Canceled
            : ValueTaskSourceStatus.Faulted;
    }

    // The scheduling-context flags are ignored on purpose: a wait is always completed on the fiber's own loop,
    // so the continuation runs there directly, without a hop through a SynchronizationContext.
    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags)
    {
        CheckToken(token);
        _continuation = continuation;
        _continuationState = state;
        if (_completed)
        {
            Fiber.Loop.QueueResume(this);
        }
    }

    public void GetResult(short token)
    {
        CheckToken(token);
        if (!_completed)
        {
            throw new InvalidOperationException("a fiber wait was read before it completed");
        }

        var error = _error;
        _error = null;
        _completed = false;
        _continuation = null;
        _continuationState = null;
        Kind = WaitKind.None;
        Token++;
        if (error is not null)
        {
            ExceptionDispatchInfo.Throw(error);
        }
    }

    public override void Post(SendOrPostCallback d, object? state) => Fiber.Loop.Post(Fiber, d, state);

    public override void Send(SendOrPostCallback d, object? state) =>
        throw new NotSupportedException("a fiber cannot block its loop waiting for itself");

    public override SynchronizationContext CreateCopy() => this;

    private void CheckToken(short token)
    {
        if (token != Token)
        {
            throw new InvalidOperationException("a fiber wait was awaited twice");
        }
    }
}
