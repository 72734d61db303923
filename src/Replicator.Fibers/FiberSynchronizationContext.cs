namespace Replicator.Fibers;

/// <summary>
/// Installed while a fiber runs, so that a continuation the fiber did not expect to leave the loop (an awaited
/// Task, a nested async method) comes back to the same loop, as the same fiber, instead of the thread pool.
/// </summary>
internal sealed class FiberSynchronizationContext : SynchronizationContext
{
    private readonly Fiber _fiber;

    public FiberSynchronizationContext(Fiber fiber)
    {
        _fiber = fiber;
    }

    public override void Post(SendOrPostCallback d, object? state) => _fiber.Loop.Post(_fiber, d, state);

    public override void Send(SendOrPostCallback d, object? state) =>
        throw new NotSupportedException("a fiber cannot block its loop waiting for itself");

    public override SynchronizationContext CreateCopy() => this;
}
