using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Replicator.Tests.Proxy;

/// <summary>
/// Large hits take one of two ways out: copied from a kept mapping for a client on this host (127.0.0.1 to
/// 127.0.0.1), sendfile(2) for any other client (127.0.0.2 to 127.0.0.1 stands for one). Both must give the exact bytes.
/// </summary>
public sealed class LargeHitTests
{
    private static readonly IPAddress s_otherHost = IPAddress.Parse("127.0.0.2");

    [Fact]
    public async Task ClientOnThisHost_GetsTheExactBytes_FromOneKeptMapping()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        var body = Body(3 << 20, seed: 1);
        proxy.Origin.Files["/big.iso"] = new OriginFile(body, CacheControl: "max-age=3600");

        var miss = await GetAsync(proxy, IPAddress.Loopback, "/big.iso");
        var hit = await GetAsync(proxy, IPAddress.Loopback, "/big.iso");
        var again = await GetAsync(proxy, IPAddress.Loopback, "/big.iso");

        Assert.Equal(body, miss.Body);
        Assert.Equal(body, hit.Body);
        Assert.Equal(body, again.Body);
        Assert.Contains("Content-Length: 3145728\r\n", hit.Head, StringComparison.Ordinal);
        Assert.Equal(1, proxy.Server.MappedBodies.Count);
        Assert.Equal(1, proxy.Origin.CountRequests("/big.iso"));
    }

    [Fact]
    public async Task ClientOnAnotherHost_GetsTheExactBytes_WithoutAMapping()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        var body = Body(3 << 20, seed: 2);
        proxy.Origin.Files["/big.iso"] = new OriginFile(body, CacheControl: "max-age=3600");

        await GetAsync(proxy, s_otherHost, "/big.iso");
        var hit = await GetAsync(proxy, s_otherHost, "/big.iso");

        Assert.Equal(body, hit.Body);
        Assert.Equal(0, proxy.Server.MappedBodies.Count);
    }

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("127.0.0.2")]
    public async Task RangeOfALargeHit_IsTheExactSlice(string client)
    {
        await using var proxy = await ProxyFixture.StartAsync();
        var body = Body(1 << 20, seed: 3);
        proxy.Origin.Files["/big.iso"] = new OriginFile(body, CacheControl: "max-age=3600");
        await GetAsync(proxy, IPAddress.Parse(client), "/big.iso");

        var part = await GetAsync(proxy, IPAddress.Parse(client), "/big.iso", "Range: bytes=100000-899999\r\n");

        Assert.StartsWith("HTTP/1.1 206", part.Head, StringComparison.Ordinal);
        Assert.Contains("Content-Range: bytes 100000-899999/1048576\r\n", part.Head, StringComparison.Ordinal);
        Assert.Equal(body.AsSpan(100000, 800000).ToArray(), part.Body);
    }

    [Fact]
    public async Task BodyReplacedByHand_WithTheSameLength_IsServedNew_NotFromTheOldMapping()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        var body = Body(1 << 20, seed: 4);
        proxy.Origin.Files["/big.iso"] = new OriginFile(body, CacheControl: "max-age=3600");
        await GetAsync(proxy, IPAddress.Loopback, "/big.iso");
        await GetAsync(proxy, IPAddress.Loopback, "/big.iso");

        var replacement = Body(1 << 20, seed: 5);
        var path = proxy.CachedPath("/big.iso");
        await File.WriteAllBytesAsync(path + ".new", replacement);
        File.Move(path + ".new", path, overwrite: true);
        var hit = await GetAsync(proxy, IPAddress.Loopback, "/big.iso");

        Assert.Equal(replacement, hit.Body);
        Assert.Equal(1, proxy.Origin.CountRequests("/big.iso"));
    }

    private static byte[] Body(int length, int seed)
    {
        var body = new byte[length];
        new Random(seed).NextBytes(body);
        return body;
    }

    /// <summary>One GET from <paramref name="source"/> on its own connection, read to the end.</summary>
    private static async Task<(string Head, byte[] Body)> GetAsync(ProxyFixture proxy, IPAddress source, string path, string extraFields = "")
    {
        var reply = await RawClient.ExchangeAsync(proxy.Endpoint, $"GET {proxy.Origin.Url(path)} HTTP/1.1\r\nHost: x\r\n{extraFields}Connection: close\r\n\r\n", source: source);
        await proxy.SettledAsync(); // a miss is committed just after its last byte: the next request finds it in the tree
        var bytes = System.Text.Encoding.Latin1.GetBytes(reply);
        var end = bytes.AsSpan().IndexOf("\r\n\r\n"u8) + 4;
        Assert.True(end >= 4, "no response head");
        return (Encoding.Latin1.GetString(bytes, 0, end), bytes[end..]);
    }
}
