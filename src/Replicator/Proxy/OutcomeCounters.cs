using System.Collections.Concurrent;
using Replicator.Cache;

namespace Replicator.Proxy;

/// <summary>
/// Requests answered since start, by file class and outcome (HIT, MISS...): what the status page shows. Each thread
/// counts in an array of its own (a hit costs one increment of a line no other core writes); a snapshot sums them.
/// </summary>
internal sealed class OutcomeCounters
{
    /// <summary>The outcomes counted apart; any other (none today) is counted as the last, "OTHER".</summary>
    private static readonly string[] s_outcomes =
    [
        Outcomes.Hit, Outcomes.Miss, Outcomes.Revalidated, Outcomes.Stale, Outcomes.Pass, Outcomes.Tunnel, Outcomes.Offline,
        Outcomes.Aborted, Purge.Outcome, $"{Outcomes.Error}:client", $"{Outcomes.Error}:upstream", $"{Outcomes.Error}:proxy", "OTHER",
    ];

    private static readonly int s_classes = Enum.GetValues<FileClass>().Length;

    /// <summary>Each counting thread's array (the loops', a few threads in all), by managed thread id.</summary>
    private readonly ConcurrentDictionary<int, long[]> _perThread = new();

    public void Count(FileClass fileClass, string outcome)
    {
        var index = Array.IndexOf(s_outcomes, outcome);
        var counts = _perThread.GetOrAdd(Environment.CurrentManagedThreadId, static _ => new long[s_classes * s_outcomes.Length]);
        counts[((int)fileClass * s_outcomes.Length) + (index < 0 ? s_outcomes.Length - 1 : index)]++;
    }

    /// <summary>The counts so far that are not zero, by class, then outcome.</summary>
    public IReadOnlyList<(FileClass Class, string Outcome, long Count)> Snapshot()
    {
        var totals = new long[s_classes * s_outcomes.Length];
        foreach (var counts in _perThread.Values)
        {
            for (var i = 0; i < totals.Length; i++)
            {
                totals[i] += Volatile.Read(ref counts[i]);
            }
        }

        return [.. Enumerable.Range(0, totals.Length).Where(i => totals[i] > 0)
            .Select(i => ((FileClass)(i / s_outcomes.Length), s_outcomes[i % s_outcomes.Length], totals[i]))
            .OrderBy(count => count.Item1).ThenBy(count => count.Item2, StringComparer.Ordinal)];
    }
}
