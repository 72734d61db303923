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
}
