using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Replicator.Cache;

namespace Replicator.Proxy;

/// <summary>Requests answered since start, by file class and outcome (HIT, MISS...): what the status page shows.</summary>
internal sealed class OutcomeCounters
{
    private readonly ConcurrentDictionary<(FileClass Class, string Outcome), StrongBox<long>> _counts = new();

    public void Count(FileClass fileClass, string outcome) =>
        Interlocked.Increment(ref _counts.GetOrAdd((fileClass, outcome), static _ => new StrongBox<long>()).Value);

    /// <summary>The counts so far, by class, then outcome.</summary>
    public IReadOnlyList<(FileClass Class, string Outcome, long Count)> Snapshot() =>
        [.. _counts.Select(pair => (pair.Key.Class, pair.Key.Outcome, Interlocked.Read(ref pair.Value.Value)))
            .OrderBy(count => count.Class).ThenBy(count => count.Outcome, StringComparer.Ordinal)];
}
