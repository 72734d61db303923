using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;

namespace Replicator.Proxy;

/// <summary>
/// Why: the admin watches a fleet of caches in Prometheus and Grafana, or one process with dotnet-counters (issue 16,
/// point 5). The proxy's figures are published twice from the same counters: as System.Diagnostics.Metrics
/// instruments of the meter "Replicator" (observable ones, read only when something collects them, so a hit pays
/// nothing more than the per-thread counts it already made), and as Prometheus' text format at /metrics. Only the
/// origin's latency is recorded as it happens: one histogram sample per answer from upstream.
/// </summary>
internal sealed class ProxyMetrics : IDisposable
{
    public const string MeterName = "Replicator";

    /// <summary>Upper bounds of the origin latency buckets, in seconds (Prometheus' defaults).</summary>
    private static readonly double[] s_buckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    private readonly ProxyServer _server;
    private readonly Meter _meter = new(MeterName);

    /// <summary>This proxy's meter (tests listen to it: every proxy of a process has one of that name).</summary>
    public Meter Meter => _meter;
    private readonly Histogram<double> _originDuration;
    private readonly long[] _bucketCounts = new long[s_buckets.Length + 1];
    private long _durationTicks;
    private long _verificationFailures;

    public ProxyMetrics(ProxyServer server)
    {
        _server = server;
        _meter.CreateObservableCounter("replicator.requests", () => server.Counters.Breakdown().Requests
            .Select(count => new Measurement<long>(count.Count, new("method", count.Method), new("outcome", count.Outcome))), "{request}", "Requests answered, by method and outcome");
        _meter.CreateObservableCounter("replicator.bytes", () =>
        {
            var (_, sent, received) = server.Counters.Breakdown();
            return Bytes(sent, received).Select(bytes => new Measurement<long>(bytes.Value, new KeyValuePair<string, object?>("direction", bytes.Direction)));
        }, "By", "Bytes sent to clients and received from upstream");
        _meter.CreateObservableUpDownCounter("replicator.client.connections", () => (long)server.Admission.OpenTotal, "{connection}", "Client connections open");
        _meter.CreateObservableUpDownCounter("replicator.downloads.active", () => (long)server.Downloads.Count, "{download}", "Downloads in progress");
        _meter.CreateObservableUpDownCounter("replicator.cache.size", () => server.Usage.TreeBytes, "By", "Bytes of the bodies in the cache tree");
        _meter.CreateObservableUpDownCounter("replicator.cache.files", () => (long)server.Usage.FileCount, "{file}", "Files in the cache tree");
        _meter.CreateObservableCounter("replicator.cache.evictions", () => server.Usage.Evictions, "{file}", "Files evicted to stay under the size cap");
        _meter.CreateObservableCounter("replicator.verification.failures", () => Interlocked.Read(ref _verificationFailures), "{file}", "Downloads refused for not matching their package index");
        _originDuration = _meter.CreateHistogram<double>("replicator.origin.duration", "s", "Time from sending a request upstream to its response head");
    }

    /// <summary>An origin answered with a head <paramref name="elapsed"/> after the request went out.</summary>
    public void OriginAnswered(TimeSpan elapsed)
    {
        var seconds = elapsed.TotalSeconds;
        _originDuration.Record(seconds);
        var bucket = Array.FindIndex(s_buckets, bound => seconds <= bound);
        Interlocked.Increment(ref _bucketCounts[bucket < 0 ? s_buckets.Length : bucket]);
        Interlocked.Add(ref _durationTicks, elapsed.Ticks);
    }

    /// <summary>A download did not match what its repository's indexes say of it.</summary>
    public void VerificationFailed() => Interlocked.Increment(ref _verificationFailures);

    /// <summary>Everything, in Prometheus' text exposition format (version 0.0.4).</summary>
    public string Prometheus()
    {
        var text = new StringBuilder();
        var (requests, sent, received) = _server.Counters.Breakdown();
        Family(text, "replicator_requests_total", "counter", "Requests answered, by method and outcome.");
        foreach (var (method, outcome, count) in requests)
        {
            Sample(text, "replicator_requests_total", count, ("method", method), ("outcome", outcome));
        }

        Family(text, "replicator_bytes_total", "counter", "Bytes sent to clients (direction=\"sent\") and body bytes received from upstream (direction=\"received\").");
        foreach (var (direction, value) in Bytes(sent, received))
        {
            Sample(text, "replicator_bytes_total", value, ("direction", direction));
        }

        Gauge(text, "replicator_client_connections", "Client connections open.", _server.Admission.OpenTotal);
        Gauge(text, "replicator_downloads_active", "Downloads in progress.", _server.Downloads.Count);
        Gauge(text, "replicator_cache_size_bytes", "Bytes of the bodies in the cache tree.", _server.Usage.TreeBytes);
        Gauge(text, "replicator_cache_files", "Files in the cache tree.", _server.Usage.FileCount);
        if (_server.CacheOptions.Upkeep.MaxSize is { } cap)
        {
            Gauge(text, "replicator_cache_max_size_bytes", "The size cap (--max-size).", cap);
        }

        Family(text, "replicator_cache_evictions_total", "counter", "Files evicted to stay under the size cap.");
        Sample(text, "replicator_cache_evictions_total", _server.Usage.Evictions);
        Family(text, "replicator_verification_failures_total", "counter", "Downloads refused for not matching their package index.");
        Sample(text, "replicator_verification_failures_total", Interlocked.Read(ref _verificationFailures));

        Family(text, "replicator_origin_duration_seconds", "histogram", "Time from sending a request upstream to its response head.");
        long cumulative = 0;
        for (var i = 0; i <= s_buckets.Length; i++)
        {
            cumulative += Interlocked.Read(ref _bucketCounts[i]);
            var bound = i < s_buckets.Length ? s_buckets[i].ToString(CultureInfo.InvariantCulture) : "+Inf";
            Sample(text, "replicator_origin_duration_seconds_bucket", cumulative, ("le", bound));
        }

        text.Append("replicator_origin_duration_seconds_sum ").Append(TimeSpan.FromTicks(Interlocked.Read(ref _durationTicks)).TotalSeconds.ToString(CultureInfo.InvariantCulture)).Append('\n');
        Sample(text, "replicator_origin_duration_seconds_count", cumulative);
        Runtime(text);
        return text.ToString();
    }

    /// <summary>
    /// The process's memory and garbage collections: what the tail latency of hits is checked against (issue 13,
    /// bench/hit-tail.sh), and what an admin watches for a leak.
    /// </summary>
    private static void Runtime(StringBuilder text)
    {
        Family(text, "dotnet_gc_collections_total", "counter", "Garbage collections, by generation.");
        for (var generation = 0; generation <= GC.MaxGeneration; generation++)
        {
            Sample(text, "dotnet_gc_collections_total", GC.CollectionCount(generation), ("generation", generation.ToString(CultureInfo.InvariantCulture)));
        }

        Family(text, "dotnet_gc_pause_seconds_total", "counter", "Time the process was paused for garbage collections.");
        text.Append("dotnet_gc_pause_seconds_total ").Append(GC.GetTotalPauseDuration().TotalSeconds.ToString(CultureInfo.InvariantCulture)).Append('\n');
        Family(text, "dotnet_gc_allocated_bytes_total", "counter", "Bytes allocated on the managed heap.");
        Sample(text, "dotnet_gc_allocated_bytes_total", GC.GetTotalAllocatedBytes());
        Gauge(text, "process_resident_memory_bytes", "Resident memory of the process.", Environment.WorkingSet);
    }

    public void Dispose() => _meter.Dispose();

    private static (string Direction, long Value)[] Bytes(IReadOnlyList<(string Outcome, long Bytes)> sent, long received) =>
        [("sent", sent.Sum(outcome => outcome.Bytes)), ("received", received)];

    private static void Gauge(StringBuilder text, string name, string help, long value)
    {
        Family(text, name, "gauge", help);
        Sample(text, name, value);
    }

    private static void Family(StringBuilder text, string name, string type, string help) =>
        text.Append("# HELP ").Append(name).Append(' ').Append(help).Append("\n# TYPE ").Append(name).Append(' ').Append(type).Append('\n');

    private static void Sample(StringBuilder text, string name, long value, params (string Name, string Value)[] labels)
    {
        text.Append(name);
        if (labels.Length > 0)
        {
            text.Append('{').AppendJoin(',', labels.Select(label => $"{label.Name}=\"{label.Value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal)}\"")).Append('}');
        }

        text.Append(' ').Append(value.ToString(CultureInfo.InvariantCulture)).Append('\n');
    }
}
