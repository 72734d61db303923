using System.Collections.Concurrent;

namespace Replicator.Proxy;

/// <summary>
/// Says whether a warning of a given cause is due: at most one per cause per period, so that a flood of refused
/// clients or a full disk writes a line a minute instead of one per request. Shared by every loop.
/// </summary>
internal sealed class ThrottledLog(TimeProvider clock, TimeSpan period)
{
    private const int MaxCauses = 4096;
    private readonly ConcurrentDictionary<string, long> _lastWarned = new(StringComparer.Ordinal);

    /// <summary>True when no warning for <paramref name="cause"/> was due within the period (and records this one).</summary>
    public bool IsDue(string cause)
    {
        var now = clock.GetTimestamp();
        if (_lastWarned.TryGetValue(cause, out var last) && clock.GetElapsedTime(last, now) < period)
        {
            return false;
        }

        if (_lastWarned.Count >= MaxCauses)
        {
            _lastWarned.Clear(); // many distinct causes (addresses): forget them rather than grow
        }

        _lastWarned[cause] = now;
        return true;
    }
}
