namespace Replicator.Fibers;

internal enum LoopWorkKind : byte
{
    /// <summary>Start a new fiber's body.</summary>
    Start,

    /// <summary>Run a completed wait's continuation.</summary>
    Resume,

    /// <summary>Complete a wait (if its token is still current), then run its continuation.</summary>
    Complete,

    /// <summary>Run a callback, on behalf of a fiber or of nobody.</summary>
    Callback,
}

/// <summary>One item of a loop's ready queue; a struct so queuing allocates nothing.</summary>
internal readonly struct LoopWork
{
    public LoopWork(LoopWorkKind kind, Fiber fiber)
    {
        Kind = kind;
        Fiber = fiber;
    }

    public LoopWork(LoopWorkKind kind, FiberWaiter waiter, short token = 0, Exception? error = null)
    {
        Kind = kind;
        Fiber = waiter.Fiber;
        Waiter = waiter;
        Token = token;
        Error = error;
    }

    public LoopWork(Fiber? fiber, SendOrPostCallback callback, object? state)
    {
        Kind = LoopWorkKind.Callback;
        Fiber = fiber;
        Callback = callback;
        State = state;
    }

    public LoopWorkKind Kind { get; }

    /// <summary>The fiber the work runs as (Fiber.Current while it runs), or null.</summary>
    public Fiber? Fiber { get; }

    public FiberWaiter? Waiter { get; }

    public short Token { get; }

    public Exception? Error { get; }

    public SendOrPostCallback? Callback { get; }

    public object? State { get; }

    public void Run(FiberLoop loop)
    {
        switch (Kind)
        {
            case LoopWorkKind.Start:
                loop.StartFiber(Fiber!);
                break;
            case LoopWorkKind.Resume:
            case LoopWorkKind.Complete:
                Waiter!.Resume();
                break;
            default:
                Callback!(State);
                break;
        }
    }
}
