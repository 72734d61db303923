using System.Collections.Concurrent;
using Replicator.Cache;

namespace Replicator.Proxy;

/// <summary>
/// Requests answered since start, by method, file class and outcome (HIT, MISS...), the bytes sent to clients by
/// outcome, and the bytes received from upstream: what the status page and /metrics show. Each thread counts in an
/// array of its own (a hit costs two increments of a line no other core writes); a snapshot sums them.
/// </summary>
internal sealed class OutcomeCounters
{
    /// <summary>The outcomes counted apart; any other (none today) is counted as the last, "OTHER".</summary>
    private static readonly string[] s_outcomes =
    [
        Outcomes.Hit, Outcomes.Miss, Outcomes.Revalidated, Outcomes.Stale, Outcomes.Pass, Outcomes.Tunnel,
        Outcomes.Offline, Outcomes.Aborted, Purge.Outcome, $"{Outcomes.Error}:client", $"{Outcomes.Error}:upstream",
        $"{Outcomes.Error}:proxy", "OTHER",
    ];

    /// <summary>The methods counted apart; any other is "OTHER".</summary>
    private static readonly string[] s_methods = ["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", Purge.Method, "OTHER"];

    private static readonly int s_classes = Enum.GetValues<FileClass>().Length;

    /// <summary>Per thread: requests [method, class, outcome], then bytes sent [outcome], then bytes from upstream.</summary>
    private static readonly int s_requests = s_methods.Length * s_classes * s_outcomes.Length;

    private static readonly int s_length = s_requests + s_outcomes.Length + 1;

    /// <summary>Each counting thread's array (the loops', a few threads in all), by managed thread id.</summary>
    private readonly ConcurrentDictionary<int, long[]> _perThread = new();

    public void Count(string method, FileClass fileClass, string outcome, long bytesSent)
    {
        var index = Array.IndexOf(s_outcomes, outcome);
        index = index < 0 ? s_outcomes.Length - 1 : index;
        var methodIndex = Array.IndexOf(s_methods, method);
        methodIndex = methodIndex < 0 ? s_methods.Length - 1 : methodIndex;
        var counts = Mine();
        counts[(((methodIndex * s_classes) + (int)fileClass) * s_outcomes.Length) + index]++;
        counts[s_requests + index] += bytesSent;
    }

    /// <summary>Bytes of bodies received from upstream (downloads and pass-through).</summary>
    public void CountUpstream(long bytes) => Mine()[s_length - 1] += bytes;

    /// <summary>The counts so far that are not zero, by class, then outcome (all methods).</summary>
    public IReadOnlyList<(FileClass Class, string Outcome, long Count)> Snapshot()
    {
        var totals = Totals();
        var byClass = new long[s_classes * s_outcomes.Length];
        for (var i = 0; i < s_requests; i++)
        {
            byClass[i % byClass.Length] += totals[i];
        }

        return [.. Enumerable.Range(0, byClass.Length).Where(i => byClass[i] > 0)
            .Select(i => ((FileClass)(i / s_outcomes.Length), s_outcomes[i % s_outcomes.Length], byClass[i]))
            .OrderBy(count => count.Item1).ThenBy(count => count.Item2, StringComparer.Ordinal)];
    }

    /// <summary>Requests by method and outcome (all classes), bytes sent by outcome, and bytes from upstream; zeros left out.</summary>
    public (IReadOnlyList<(string Method, string Outcome, long Count)> Requests, IReadOnlyList<(string Outcome, long Bytes)> Sent, long FromUpstream) Breakdown()
    {
        var totals = Totals();
        var requests = new List<(string, string, long)>();
        for (var method = 0; method < s_methods.Length; method++)
        {
            for (var outcome = 0; outcome < s_outcomes.Length; outcome++)
            {
                long count = 0;
                for (var fileClass = 0; fileClass < s_classes; fileClass++)
                {
                    count += totals[(((method * s_classes) + fileClass) * s_outcomes.Length) + outcome];
                }

                if (count > 0)
                {
                    requests.Add((s_methods[method], s_outcomes[outcome], count));
                }
            }
        }

        var sent = Enumerable.Range(0, s_outcomes.Length).Where(i => totals[s_requests + i] > 0).Select(i => (s_outcomes[i], totals[s_requests + i])).ToList();
        return (requests, sent, totals[s_length - 1]);
    }

    private long[] Mine() => _perThread.GetOrAdd(Environment.CurrentManagedThreadId, static _ => new long[s_length]);

    private long[] Totals()
    {
        var totals = new long[s_length];
        foreach (var counts in _perThread.Values)
        {
            for (var i = 0; i < totals.Length; i++)
            {
                totals[i] += Volatile.Read(ref counts[i]);
            }
        }

        return totals;
    }
}
