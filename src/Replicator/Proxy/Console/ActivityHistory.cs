namespace Replicator.Proxy.Console;

/// <summary>
/// Requests and bytes per minute over the last hours, for the dashboard's chart: a sample of the proxy's running
/// totals each minute (on the proxy's clock), kept as differences in a ring of <see cref="Minutes"/> entries.
/// </summary>
internal sealed class ActivityHistory : IDisposable
{
    public const int Minutes = 6 * 60;

    private readonly OutcomeCounters _counters;
    private readonly ITimer _timer;
    private readonly Lock _lock = new();
    private readonly Queue<(DateTimeOffset Time, long FromCache, long FromUpstream)> _samples = new();
    private (long FromCache, long FromUpstream) _last;
    private readonly TimeProvider _clock;

    public ActivityHistory(OutcomeCounters counters, TimeProvider clock)
    {
        _counters = counters;
        _clock = clock;
        _timer = clock.CreateTimer(_ => Sample(), null, TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(1));
    }

    /// <summary>The minutes sampled so far, oldest first: requests answered from the cache and from upstream.</summary>
    public IReadOnlyList<(DateTimeOffset Time, long FromCache, long FromUpstream)> Samples()
    {
        lock (_lock)
        {
            return [.. _samples];
        }
    }

    /// <summary>Takes this minute's sample now (the timer does it each minute).</summary>
    public void Sample()
    {
        var (fromCache, fromUpstream) = Totals(_counters);
        lock (_lock)
        {
            _samples.Enqueue((_clock.GetUtcNow(), fromCache - _last.FromCache, fromUpstream - _last.FromUpstream));
            _last = (fromCache, fromUpstream);
            while (_samples.Count > Minutes)
            {
                _samples.Dequeue();
            }
        }
    }

    /// <summary>Requests answered from the cache (HIT, REVALIDATED, STALE, OFFLINE) and from upstream (MISS, PASS) since start.</summary>
    public static (long FromCache, long FromUpstream) Totals(OutcomeCounters counters)
    {
        long fromCache = 0, fromUpstream = 0;
        foreach (var (_, outcome, count) in counters.Breakdown().Requests)
        {
            if (outcome is Outcomes.Hit or Outcomes.Revalidated or Outcomes.Stale or Outcomes.Offline)
            {
                fromCache += count;
            }
            else if (outcome is Outcomes.Miss or Outcomes.Pass)
            {
                fromUpstream += count;
            }
        }

        return (fromCache, fromUpstream);
    }

    public void Dispose() => _timer.Dispose();
}
