namespace Replicator.Fibers;

/// <summary>
/// A clean stop in two steps. At the request, <see cref="Stopping"/> is cancelled and every wait marked
/// interruptOnStop (listeners, idle connections) ends with <see cref="FiberStoppedException"/>; other fibers may finish
/// their work. When the grace period is over, every remaining wait ends the same way. The loop thread exits when its
/// last fiber has ended.
/// </summary>
public sealed partial class FiberLoop
{
    private readonly CancellationTokenSource _stopping = new();
    private long _graceDeadline = long.MaxValue;
    private bool _graceOver;

    /// <summary>Cancelled on this loop's thread when the stop begins.</summary>
    public CancellationToken Stopping => _stopping.Token;

    /// <summary>Any thread: begins the stop; waits that are not interrupted at once end after <paramref name="grace"/>.</summary>
    public void RequestStop(TimeSpan grace) => Post(null, static state => ((StopRequest)state!).Apply(), new StopRequest(this, grace));

    private bool RefusesWait(bool interruptOnStop) => _graceOver || (interruptOnStop && _stopping.IsCancellationRequested);

    private void BeginStop(TimeSpan grace)
    {
        if (_stopping.IsCancellationRequested)
        {
            return;
        }

        try
        {
            _stopping.Cancel();
        }
        catch (AggregateException e)
        {
            _logger.Error(e, "A stop callback on fiber loop {Loop} failed", Index);
        }

        _graceDeadline = TimeProvider.GetTimestamp() + ToTimestampUnits(grace);
        InterruptWaits(all: false);
        if (FiberCount == 0)
        {
            _exiting = true;
        }
    }

    private void InterruptWaits(bool all)
    {
        for (var fiber = _firstFiber; fiber is not null; fiber = fiber.Next)
        {
            var waiter = fiber.Waiter;
            if (waiter.IsPending && (all || waiter.InterruptOnStop))
            {
                CompleteWait(waiter, new FiberStoppedException());
            }
        }
    }

    private sealed record StopRequest(FiberLoop Loop, TimeSpan Grace)
    {
        public void Apply() => Loop.BeginStop(Grace);
    }
}
