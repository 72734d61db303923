using System.Net;

namespace Replicator.Tests.Proxy;

/// <summary>
/// Issue 11, point 4: when the origin cannot be reached, a stale copy is served only where the response allows it
/// (RFC 9111 sections 4.2.4, 5.2.2.2, 5.2.2.4, 5.2.2.8 and 5.2.2.10).
/// </summary>
public sealed class StaleRulesTests
{
    [Theory]
    [InlineData(null, HttpStatusCode.OK, "STALE")]
    [InlineData("max-age=0", HttpStatusCode.OK, "STALE")]
    [InlineData("no-cache", HttpStatusCode.GatewayTimeout, "ERROR:upstream")]
    [InlineData("s-maxage=0", HttpStatusCode.GatewayTimeout, "ERROR:upstream")]
    [InlineData("max-age=0, must-revalidate", HttpStatusCode.GatewayTimeout, "ERROR:upstream")]
    [InlineData("max-age=0, proxy-revalidate", HttpStatusCode.GatewayTimeout, "ERROR:upstream")]
    public async Task OriginDown_StaleCopyIsServedOnlyWhereTheResponseAllows(string? cacheControl, HttpStatusCode status, string outcome)
    {
        await using var proxy = await ProxyFixture.StartAsync();
        proxy.Origin.Files["/s"] = new OriginFile("stored"u8.ToArray(), CacheControl: cacheControl, ETag: "\"s\"");
        await proxy.Client.GetByteArrayAsync(proxy.Origin.Url("/s"));
        Assert.True(File.Exists(proxy.CachedPath("/s")));
        var url = proxy.Origin.Url("/s");
        await proxy.Origin.DisposeAsync();

        using var reply = await proxy.Client.GetAsync(url);

        Assert.Equal(status, reply.StatusCode);
        Assert.Equal(outcome, (await proxy.Accesses.OutcomesAsync(url, 2))[1]);
    }

    [Fact]
    public async Task OnlyIfCached_AnswersFromTheCacheOrWith504_NeverAsksTheOrigin()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        proxy.Origin.Files["/here"] = new OriginFile("cached"u8.ToArray(), CacheControl: "max-age=600");
        proxy.Origin.Files["/elsewhere"] = new OriginFile("not cached"u8.ToArray(), CacheControl: "max-age=600");
        await proxy.Client.GetStringAsync(proxy.Origin.Url("/here"));

        var hit = await proxy.RawAsync($"GET {proxy.Origin.Url("/here")} HTTP/1.1\r\nHost: x\r\nCache-Control: only-if-cached\r\nConnection: close\r\n\r\n");
        var miss = await proxy.RawAsync($"GET {proxy.Origin.Url("/elsewhere")} HTTP/1.1\r\nHost: x\r\nCache-Control: only-if-cached\r\nConnection: close\r\n\r\n");

        Assert.StartsWith("HTTP/1.1 200 ", hit, StringComparison.Ordinal);
        Assert.StartsWith("HTTP/1.1 504 ", miss, StringComparison.Ordinal);
        Assert.Contains("only-if-cached", miss, StringComparison.Ordinal);
        Assert.Equal(0, proxy.Origin.CountRequests("/elsewhere"));
        Assert.Equal(["MISS"], await proxy.Accesses.OutcomesAsync(proxy.Origin.Url("/elsewhere"), 1));
    }

    [Theory]
    [InlineData("max-age=0, stale-if-error=600", HttpStatusCode.OK, "STALE")]
    [InlineData("max-age=0", HttpStatusCode.ServiceUnavailable, "PASS")]
    [InlineData("max-age=0, stale-if-error=600, must-revalidate", HttpStatusCode.ServiceUnavailable, "PASS")]
    public async Task OriginAnswering5xx_StaleIfErrorServesTheStoredCopy(string cacheControl, HttpStatusCode status, string outcome)
    {
        await using var proxy = await ProxyFixture.StartAsync();
        proxy.Origin.Files["/e"] = new OriginFile("good copy"u8.ToArray(), CacheControl: cacheControl, ETag: "\"e\"");
        await proxy.Client.GetByteArrayAsync(proxy.Origin.Url("/e"));
        proxy.Origin.Files["/e"] = new OriginFile("down"u8.ToArray(), Status: 503);

        using var reply = await proxy.Client.GetAsync(proxy.Origin.Url("/e"));

        Assert.Equal(status, reply.StatusCode);
        Assert.Equal(status == HttpStatusCode.OK ? "good copy" : "down", await reply.Content.ReadAsStringAsync());
        Assert.Equal(outcome, (await proxy.Accesses.OutcomesAsync(proxy.Origin.Url("/e"), 2))[1]);
    }

    [Fact]
    public async Task HeadAnswered200_RefreshesTheStoredFields_OfTheSameRepresentation()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        proxy.Origin.Files["/h"] = new OriginFile("body"u8.ToArray(), CacheControl: "max-age=0", ETag: "\"h\"", Fields: ["X-Version: 1"]);
        await proxy.Client.GetByteArrayAsync(proxy.Origin.Url("/h"));
        proxy.Origin.Files["/h"] = new OriginFile("body"u8.ToArray(), CacheControl: "max-age=0", ETag: "\"h\"", Fields: ["X-Version: 2"]);

        using var head = await proxy.Client.SendAsync(new HttpRequestMessage(HttpMethod.Head, proxy.Origin.Url("/h")));
        Assert.Equal(["2"], head.Headers.GetValues("X-Version"));
        var url = proxy.Origin.Url("/h");
        await proxy.Origin.DisposeAsync();

        // The origin is gone: the stale copy is served with the fields the HEAD brought.
        using var stale = await proxy.Client.GetAsync(url);
        Assert.Equal("body", await stale.Content.ReadAsStringAsync());
        Assert.Equal(["2"], stale.Headers.GetValues("X-Version"));
    }

    [Fact]
    public async Task StaleWhileRevalidate_ServesTheStaleCopyAtOnce_AndRevalidatesInTheBackground()
    {
        // The clock starts 20 s behind the origin's (real) Date and is moved to it: the copy is then 20 s old.
        var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UtcNow.AddSeconds(-20));
        await using var proxy = await ProxyFixture.StartAsync(clock: clock);
        proxy.Origin.Files["/swr"] = new OriginFile("copy"u8.ToArray(), CacheControl: "max-age=10, stale-while-revalidate=600", ETag: "\"w\"");
        await proxy.Client.GetByteArrayAsync(proxy.Origin.Url("/swr"));
        clock.Advance(TimeSpan.FromSeconds(20));
        using var client = proxy.NewClient(); // moving the clock ended the first client's idle connection

        // Stale, within the window: answered from the cache at once; the origin is asked on the side.
        Assert.Equal("copy", await client.GetStringAsync(proxy.Origin.Url("/swr")));
        Assert.Equal("STALE", (await proxy.Accesses.OutcomesAsync(proxy.Origin.Url("/swr"), 2))[1]);
        await proxy.Origin.WaitForRequestsAsync("/swr", 2);
        Assert.Equal("\"w\"", proxy.Origin.Requests.Last(r => r.PathAndQuery == "/swr").Headers["If-None-Match"]);

        // Once the 304 has refreshed the metadata, the copy is fresh again: a HIT, with no further origin request.
        string[] outcomes;
        var asked = 2;
        do
        {
            await client.GetStringAsync(proxy.Origin.Url("/swr"));
            outcomes = await proxy.Accesses.OutcomesAsync(proxy.Origin.Url("/swr"), ++asked);
        }
        while (outcomes[^1] != "HIT" && asked < 200);

        Assert.Equal("HIT", outcomes[^1]);
    }

    [Fact]
    public async Task ClientValidatorsOnAMiss_GoToTheOrigin_Its304IsPassedOn_AndA200IsStored()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        proxy.Origin.Files["/v"] = new OriginFile("body"u8.ToArray(), CacheControl: "max-age=600", ETag: "\"v1\"");

        var notModified = await proxy.RawAsync($"GET {proxy.Origin.Url("/v")} HTTP/1.1\r\nHost: x\r\nIf-None-Match: \"v1\"\r\nConnection: close\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 304 ", notModified, StringComparison.Ordinal);
        Assert.Equal("\"v1\"", proxy.Origin.Requests.Last(r => r.PathAndQuery == "/v").Headers["If-None-Match"]);
        Assert.False(File.Exists(proxy.CachedPath("/v")));

        var changed = await proxy.RawAsync($"GET {proxy.Origin.Url("/v")} HTTP/1.1\r\nHost: x\r\nIf-None-Match: \"v0\"\r\nConnection: close\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 200 ", changed, StringComparison.Ordinal);
        Assert.EndsWith("body", changed, StringComparison.Ordinal);
        Assert.Equal("body", File.ReadAllText(proxy.CachedPath("/v")));
        Assert.Equal(["PASS", "MISS"], await proxy.Accesses.OutcomesAsync(proxy.Origin.Url("/v"), 2));
    }
}
