using System.Diagnostics.Metrics;
using System.Net;
using Replicator.Proxy;

namespace Replicator.Tests.Proxy;

/// <summary>/metrics in Prometheus' text format and the "Replicator" meter's instruments (issue 16, point 5).</summary>
public sealed class MetricsTests
{
    private static async Task<string> MetricsAsync(ProxyFixture proxy)
    {
        using var direct = new HttpClient();
        using var reply = await direct.GetAsync($"http://{proxy.Endpoint}/metrics");
        Assert.Equal(HttpStatusCode.OK, reply.StatusCode);
        Assert.Equal("text/plain; version=0.0.4; charset=utf-8", reply.Content.Headers.ContentType!.ToString());
        return await reply.Content.ReadAsStringAsync();
    }

    [Fact]
    public async Task Metrics_CountRequestsByOutcome_Bytes_AndTheOriginsLatency()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        await MissThenHitAsync(proxy, "/m", 5000);

        var text = await MetricsAsync(proxy);

        Assert.Contains("# TYPE replicator_requests_total counter\n", text, StringComparison.Ordinal);
        Assert.Contains("replicator_requests_total{method=\"GET\",outcome=\"MISS\"} 1\n", text, StringComparison.Ordinal);
        Assert.Contains("replicator_requests_total{method=\"GET\",outcome=\"HIT\"} 1\n", text, StringComparison.Ordinal);
        Assert.Contains("replicator_bytes_total{direction=\"received\"} 5000\n", text, StringComparison.Ordinal);
        Assert.Matches("replicator_bytes_total\\{direction=\"sent\"\\} (1[0-9]{4})\n", text);
        Assert.Contains("# TYPE replicator_origin_duration_seconds histogram\n", text, StringComparison.Ordinal);
        Assert.Contains("replicator_origin_duration_seconds_bucket{le=\"+Inf\"} 1\n", text, StringComparison.Ordinal);
        Assert.Contains("replicator_origin_duration_seconds_count 1\n", text, StringComparison.Ordinal);
        Assert.Contains("replicator_cache_files 1\n", await MetricsAfterFlushAsync(proxy), StringComparison.Ordinal);
        Assert.Matches("replicator_client_connections [1-9]", text);
    }

    [Fact]
    public async Task Metrics_HaveTheProcesssGarbageCollectionsAndMemory()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        GC.Collect(0);
        var collections = GC.CollectionCount(0);

        var text = await MetricsAsync(proxy);

        Assert.Contains("# TYPE dotnet_gc_collections_total counter\n", text, StringComparison.Ordinal);
        var gen0 = System.Text.RegularExpressions.Regex.Match(text, "dotnet_gc_collections_total\\{generation=\"0\"\\} ([0-9]+)\n");
        Assert.True(gen0.Success, text);
        Assert.InRange(long.Parse(gen0.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), collections, long.MaxValue);
        Assert.Contains("dotnet_gc_collections_total{generation=\"2\"} ", text, StringComparison.Ordinal);
        Assert.Matches("dotnet_gc_pause_seconds_total [0-9.E-]+\n", text);
        Assert.Matches("dotnet_gc_allocated_bytes_total [1-9][0-9]*\n", text);
        Assert.Matches("process_resident_memory_bytes [1-9][0-9]*\n", text);
    }

    /// <summary>One MISS, then one HIT of a file of <paramref name="size"/> bytes, both counted.</summary>
    private static async Task MissThenHitAsync(ProxyFixture proxy, string path, int size)
    {
        proxy.Origin.Files[path] = new OriginFile(new byte[size], CacheControl: "max-age=600");
        await proxy.Client.GetByteArrayAsync(proxy.Origin.Url(path));
        await proxy.Client.GetByteArrayAsync(proxy.Origin.Url(path));
        await proxy.Accesses.OutcomesAsync(proxy.Origin.Url(path), 2);
    }

    private static async Task<string> MetricsAfterFlushAsync(ProxyFixture proxy)
    {
        await proxy.Server.Usage.FlushAsync().WaitAsync(TimeSpan.FromSeconds(20));
        return await MetricsAsync(proxy);
    }

    [Fact]
    public async Task MetricsPath_ComesBeforeAMirrorNamedMetrics()
    {
        await using var origin = await TestOrigin.StartAsync();
        origin.Files["/file"] = new OriginFile("mirrored"u8.ToArray());
        await using var named = await ProxyFixture.StartAsync(s => s with { Mirrors = new MirrorRoutes([("metrics", origin.Url("/"))]) });

        Assert.StartsWith("# HELP ", await MetricsAsync(named), StringComparison.Ordinal);
        using var direct = new HttpClient();
        Assert.Equal("mirrored", await direct.GetStringAsync($"http://{named.Endpoint}/metrics/file"));
    }

    [Fact]
    public async Task TheMeter_PublishesTheSameCounts_ForDotnetCountersAndOpenTelemetry()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        await MissThenHitAsync(proxy, "/i", 100);

        var hits = 0L;
        var names = new List<string>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, listening) =>
            {
                if (instrument.Meter == proxy.Server.Metrics.Meter)
                {
                    names.Add(instrument.Name);
                    listening.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            if (instrument.Name == "replicator.requests" && tags.ToArray().Contains(new KeyValuePair<string, object?>("outcome", "HIT")))
            {
                hits += value;
            }
        });
        listener.Start();
        listener.RecordObservableInstruments();

        Assert.Equal(1, hits);
        Assert.Contains("replicator.origin.duration", names);
        Assert.Contains("replicator.cache.size", names);
        Assert.Equal(ProxyMetrics.MeterName, proxy.Server.Metrics.Meter.Name);
    }

    [Fact]
    public async Task TheShippedGrafanaDashboard_AsksOnlyForMetricsTheProxyExposes()
    {
        await using var proxy = await ProxyFixture.StartAsync(s => s with { Upkeep = s.Upkeep with { MaxSize = 1L << 30 } });
        var exposed = System.Text.RegularExpressions.Regex.Matches(await MetricsAsync(proxy), "^# TYPE (\\S+) ", System.Text.RegularExpressions.RegexOptions.Multiline)
            .Select(match => match.Groups[1].Value).ToHashSet();
        var dashboard = File.ReadAllText(Path.Combine(TestPaths.RepositoryRoot(), "docs", "grafana-dashboard.json"));
        using var parsed = System.Text.Json.JsonDocument.Parse(dashboard);

        var asked = System.Text.RegularExpressions.Regex.Matches(dashboard, "replicator_[a-z_]+").Select(match => match.Value).ToHashSet();

        Assert.NotEmpty(asked);
        Assert.All(asked, name => Assert.Contains(name.EndsWith("_bucket", StringComparison.Ordinal) ? name[..^"_bucket".Length] : name, exposed));
    }

    [Fact]
    public async Task AVerificationFailure_IsCounted()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        var repository = new TestRepository("/debian", packages: 2);
        repository.ServeFrom(proxy.Origin);
        var corrupted = (byte[])repository.Packages[0].Body.Clone();
        corrupted[1] ^= 1;
        proxy.Origin.Files[repository.UrlPathOf(repository.Packages[0])] = new OriginFile(corrupted);
        await proxy.Client.GetByteArrayAsync(proxy.Origin.Url($"{repository.Dists}/Release"));
        await proxy.Client.GetByteArrayAsync(proxy.Origin.Url($"{repository.Dists}/main/binary-amd64/Packages"));

        using var reply = await proxy.Client.GetAsync(proxy.Origin.Url(repository.UrlPathOf(repository.Packages[0])));

        Assert.Equal(HttpStatusCode.BadGateway, reply.StatusCode);
        Assert.Contains("replicator_verification_failures_total 2\n", await MetricsAsync(proxy), StringComparison.Ordinal);
    }
}
