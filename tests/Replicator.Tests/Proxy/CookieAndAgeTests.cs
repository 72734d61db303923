using System.Net;
using Microsoft.Extensions.Time.Testing;

namespace Replicator.Tests.Proxy;

/// <summary>
/// Issue 11, points 1 and 2: every end-to-end field the origin sent reaches the client, cookies included, and a
/// shared cache never replays one user's cookie to the next unless the origin said the response is for everyone;
/// the age an upstream cache reported counts (RFC 9111 sections 3.1, 4.2.3 and 7.3).
/// </summary>
public sealed class CookieAndAgeTests
{
    [Fact]
    public async Task SetCookie_WithoutPublic_ReachesTheClient_AndIsNeitherStoredNorReplayed()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        proxy.Origin.Files["/login"] = new OriginFile("welcome"u8.ToArray(), CacheControl: "max-age=600", Fields: ["Set-Cookie: session=alice; Path=/", "X-Custom: kept"]);

        using var first = await proxy.Client.GetAsync(proxy.Origin.Url("/login"));
        using var second = await proxy.NewClient().GetAsync(proxy.Origin.Url("/login"));

        Assert.Equal(["session=alice; Path=/"], first.Headers.GetValues("Set-Cookie"));
        Assert.Equal(["kept"], first.Headers.GetValues("X-Custom"));
        Assert.Equal(["session=alice; Path=/"], second.Headers.GetValues("Set-Cookie"));
        Assert.Equal(2, proxy.Origin.CountRequests("/login"));
        Assert.False(File.Exists(proxy.CachedPath("/login")));
        Assert.Equal(["PASS", "PASS"], await proxy.Accesses.OutcomesAsync(proxy.Origin.Url("/login"), 2));
    }

    [Fact]
    public async Task SetCookie_WithPublic_IsStoredAndReplayedWhole()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        proxy.Origin.Files["/banner"] = new OriginFile("shared"u8.ToArray(), CacheControl: "public, max-age=600", Fields: ["Set-Cookie: seen=1", "X-Custom: kept"]);

        using var miss = await proxy.Client.GetAsync(proxy.Origin.Url("/banner"));
        using var hit = await proxy.NewClient().GetAsync(proxy.Origin.Url("/banner"));

        Assert.Equal(["seen=1"], miss.Headers.GetValues("Set-Cookie"));
        Assert.Equal(["seen=1"], hit.Headers.GetValues("Set-Cookie"));
        Assert.Equal(["kept"], hit.Headers.GetValues("X-Custom"));
        Assert.Equal(1, proxy.Origin.CountRequests("/banner"));
        Assert.Equal(["MISS", "HIT"], await proxy.Accesses.OutcomesAsync(proxy.Origin.Url("/banner"), 2));
    }

    [Fact]
    public async Task ReceivedAge_CountsInTheAgeSent_OnTheMissAndOnHits()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var proxy = await ProxyFixture.StartAsync(clock: clock);
        proxy.Origin.Files["/aged"] = new OriginFile("from an upstream cache"u8.ToArray(), CacheControl: "max-age=600", Fields: ["Age: 30"]);

        using var miss = await proxy.Client.GetAsync(proxy.Origin.Url("/aged"));
        clock.Advance(TimeSpan.FromSeconds(10));
        using var hit = await proxy.Client.GetAsync(proxy.Origin.Url("/aged"));

        Assert.InRange(miss.Headers.Age!.Value.TotalSeconds, 30, 35);
        Assert.InRange(hit.Headers.Age!.Value.TotalSeconds, 40, 45);
        Assert.Single(hit.Headers.GetValues("Age"));
        Assert.Equal(["MISS", "HIT"], await proxy.Accesses.OutcomesAsync(proxy.Origin.Url("/aged"), 2));
    }

    [Fact]
    public async Task ResponseOlderThanItsLifetimeOnArrival_IsNotServedAsFresh()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        proxy.Origin.Files["/old"] = new OriginFile("already stale"u8.ToArray(), CacheControl: "max-age=600", ETag: "\"o\"", Fields: ["Age: 700"]);

        await proxy.Client.GetByteArrayAsync(proxy.Origin.Url("/old"));
        using var again = await proxy.Client.GetAsync(proxy.Origin.Url("/old"));

        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        Assert.Equal(2, proxy.Origin.CountRequests("/old"));
        Assert.Equal(["MISS", "REVALIDATED"], await proxy.Accesses.OutcomesAsync(proxy.Origin.Url("/old"), 2));
    }
}
