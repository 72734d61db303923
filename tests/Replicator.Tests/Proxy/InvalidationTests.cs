using System.Net;

namespace Replicator.Tests.Proxy;

/// <summary>Issue 11, point 3: a non-error answer to an unsafe method invalidates what is stored (RFC 9111 section 4.4).</summary>
public sealed class InvalidationTests
{
    [Theory]
    [InlineData("PUT")]
    [InlineData("POST")]
    [InlineData("DELETE")]
    [InlineData("PATCH")]
    public async Task UnsafeMethodAnswered200_TheNextGetAsksTheOrigin(string method)
    {
        await using var proxy = await ProxyFixture.StartAsync();
        proxy.Origin.Files["/doc"] = new OriginFile("version 1"u8.ToArray(), CacheControl: "max-age=600", ETag: "\"1\"");
        Assert.Equal("version 1", await proxy.Client.GetStringAsync(proxy.Origin.Url("/doc")));
        Assert.Equal("version 1", await proxy.Client.GetStringAsync(proxy.Origin.Url("/doc")));

        using var change = await proxy.Client.SendAsync(new HttpRequestMessage(new HttpMethod(method), proxy.Origin.Url("/doc")) { Content = new ByteArrayContent("new"u8.ToArray()) });
        Assert.Equal(HttpStatusCode.OK, change.StatusCode);
        proxy.Origin.Files["/doc"] = new OriginFile("version 2"u8.ToArray(), CacheControl: "max-age=600", ETag: "\"2\"");

        Assert.Equal("version 2", await proxy.Client.GetStringAsync(proxy.Origin.Url("/doc")));
        var outcomes = await proxy.Accesses.OutcomesAsync(proxy.Origin.Url("/doc"), 4);
        Assert.Equal(["MISS", "HIT", "PASS", "MISS"], outcomes);
    }

    [Fact]
    public async Task UnsafeMethodAnsweredWithAnError_InvalidatesNothing()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        proxy.Origin.Files["/kept"] = new OriginFile("kept"u8.ToArray(), CacheControl: "max-age=600");
        await proxy.Client.GetStringAsync(proxy.Origin.Url("/kept"));

        // The origin has no /kept/x: a 404, an error, changes nothing stored.
        using var refused = await proxy.Client.PostAsync(proxy.Origin.Url("/kept?x"), new ByteArrayContent([1]));
        Assert.Equal(HttpStatusCode.NotFound, refused.StatusCode);
        using var deleted = await proxy.Client.DeleteAsync(proxy.Origin.Url("/missing"));

        Assert.Equal("kept", await proxy.Client.GetStringAsync(proxy.Origin.Url("/kept")));
        Assert.Equal(["MISS", "HIT"], await proxy.Accesses.OutcomesAsync(proxy.Origin.Url("/kept"), 2));
    }

    [Fact]
    public async Task LocationAndContentLocationOnTheSameHost_AreInvalidatedToo()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        proxy.Origin.Files["/list"] = new OriginFile("list 1"u8.ToArray(), CacheControl: "max-age=600", ETag: "\"l1\"");
        proxy.Origin.Files["/item"] = new OriginFile("item 1"u8.ToArray(), CacheControl: "max-age=600", ETag: "\"i1\"");
        proxy.Origin.Files["/form"] = new OriginFile("done"u8.ToArray(), Fields: ["Location: /list", "Content-Location: /item"]);
        await proxy.Client.GetStringAsync(proxy.Origin.Url("/list"));
        await proxy.Client.GetStringAsync(proxy.Origin.Url("/item"));

        using var posted = await proxy.Client.PostAsync(proxy.Origin.Url("/form"), new ByteArrayContent([1]));
        Assert.Equal(HttpStatusCode.OK, posted.StatusCode);

        await proxy.Client.GetStringAsync(proxy.Origin.Url("/list"));
        await proxy.Client.GetStringAsync(proxy.Origin.Url("/item"));
        Assert.Equal(2, proxy.Origin.CountRequests("/list"));
        Assert.Equal(2, proxy.Origin.CountRequests("/item"));
    }
}
