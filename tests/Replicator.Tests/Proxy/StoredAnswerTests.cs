using System.Net;

namespace Replicator.Tests.Proxy;

/// <summary>
/// Issue 11, point 5: cacheable statuses other than 200 (RFC 9110 section 15.1) with a lifetime are stored, under
/// .replicator/answers/, never in the tree, and served with their status and fields while fresh.
/// </summary>
public sealed class StoredAnswerTests
{
    [Theory]
    [InlineData(301)]
    [InlineData(404)]
    [InlineData(410)]
    public async Task AnswerWithALifetime_IsStoredAside_AndServedWithItsStatus(int status)
    {
        await using var proxy = await ProxyFixture.StartAsync();
        proxy.Origin.Files["/moved"] = new OriginFile("see elsewhere"u8.ToArray(), "text/plain", CacheControl: "max-age=600", Fields: ["Location: /elsewhere", "X-Kind: answer"], Status: status);

        var first = await proxy.RawAsync($"GET {proxy.Origin.Url("/moved")} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        var second = await proxy.RawAsync($"GET {proxy.Origin.Url("/moved")} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");

        foreach (var reply in (string[])[first, second])
        {
            Assert.StartsWith($"HTTP/1.1 {status} ", reply, StringComparison.Ordinal);
            Assert.Contains("\r\nLocation: /elsewhere\r\n", reply, StringComparison.Ordinal);
            Assert.Contains("\r\nX-Kind: answer\r\n", reply, StringComparison.Ordinal);
            Assert.EndsWith("\r\n\r\nsee elsewhere", reply, StringComparison.Ordinal);
        }

        Assert.Equal(1, proxy.Origin.CountRequests("/moved"));
        Assert.False(File.Exists(proxy.CachedPath("/moved")));
        Assert.True(File.Exists(Path.Combine(proxy.Root, ".replicator", "answers", $"127.0.0.1:{proxy.Origin.Port}", "moved")));
        Assert.Equal(["MISS", "HIT"], await proxy.Accesses.OutcomesAsync(proxy.Origin.Url("/moved"), 2));
    }

    [Theory]
    [InlineData(404, null)]
    [InlineData(500, "max-age=600")]
    [InlineData(404, "no-store, max-age=600")]
    public async Task AnswerWithoutALifetime_OrNotCacheable_PassesThrough(int status, string? cacheControl)
    {
        await using var proxy = await ProxyFixture.StartAsync();
        proxy.Origin.Files["/no"] = new OriginFile("no"u8.ToArray(), CacheControl: cacheControl, Status: status);

        for (var i = 0; i < 2; i++)
        {
            using var reply = await proxy.Client.GetAsync(proxy.Origin.Url("/no"));
            Assert.Equal((HttpStatusCode)status, reply.StatusCode);
        }

        Assert.Equal(2, proxy.Origin.CountRequests("/no"));
        Assert.Equal(["PASS", "PASS"], await proxy.Accesses.OutcomesAsync(proxy.Origin.Url("/no"), 2));
    }

    [Fact]
    public async Task AStoredAnswer_GivesWayToA200Body()
    {
        var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var proxy = await ProxyFixture.StartAsync(clock: clock, configure: s => s with { Timeout = TimeSpan.FromHours(1) });
        proxy.Origin.Files["/later"] = new OriginFile("not yet"u8.ToArray(), CacheControl: "max-age=1", Status: 404);
        using (var missing = await proxy.Client.GetAsync(proxy.Origin.Url("/later")))
        {
            Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        }

        proxy.Origin.Files["/later"] = new OriginFile("here now"u8.ToArray(), CacheControl: "max-age=600");
        clock.Advance(TimeSpan.FromSeconds(5));

        Assert.Equal("here now", await proxy.Client.GetStringAsync(proxy.Origin.Url("/later")));
        Assert.Equal("here now", File.ReadAllText(proxy.CachedPath("/later")));
        Assert.False(File.Exists(Path.Combine(proxy.Root, ".replicator", "answers", $"127.0.0.1:{proxy.Origin.Port}", "later")));
    }

    [Fact]
    public async Task AnAnswerOverTheLimit_IsRelayedWhole_AndNotStored()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        var body = TestBodies.Random(seed: 5, size: 3 * 1024 * 1024);
        proxy.Origin.Files["/huge404"] = new OriginFile(body, CacheControl: "max-age=600", Status: 404);

        using var reply = await proxy.Client.GetAsync(proxy.Origin.Url("/huge404"));

        Assert.Equal(HttpStatusCode.NotFound, reply.StatusCode);
        Assert.Equal(body, await reply.Content.ReadAsByteArrayAsync());
        Assert.False(File.Exists(Path.Combine(proxy.Root, ".replicator", "answers", $"127.0.0.1:{proxy.Origin.Port}", "huge404")));
        Assert.Equal(["PASS"], await proxy.Accesses.OutcomesAsync(proxy.Origin.Url("/huge404"), 1));
    }
}
