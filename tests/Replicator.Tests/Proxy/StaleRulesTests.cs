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
}
