namespace Replicator.Fibers;

/// <summary>
/// Thrown at a wait point whose inactivity timeout expired: the managed form of the original engine throwing
/// "connection timed out" into the generator. The fiber may catch it.
/// </summary>
public sealed class FiberTimeoutException : TimeoutException
{
    public FiberTimeoutException(string message)
        : base(message)
    {
    }
}

/// <summary>Thrown at a wait point when the engine stops: at once for waits marked interruptOnStop, else after the grace period.</summary>
public sealed class FiberStoppedException : OperationCanceledException
{
    public FiberStoppedException()
        : base("the fiber engine is stopping")
    {
    }
}
