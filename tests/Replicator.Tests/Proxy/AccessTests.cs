using System.Net;
using System.Net.Sockets;
using System.Text;
using Replicator.Proxy;

namespace Replicator.Tests.Proxy;

/// <summary>--ip through real sockets: a client outside the allowed ranges gets 403 and nothing else.</summary>
public sealed class AccessTests
{
    [Fact]
    public async Task IPv4Client_InsideTheRange_IsServed_AndOutsideIt_Refused()
    {
        await using var proxy = await ProxyFixture.StartAsync(s => s with { Access = ClientAccess.Parse(["127.0.0.1/32"]) });
        proxy.Origin.Files["/ok"] = new OriginFile("served"u8.ToArray());
        var request = $"GET {proxy.Origin.Url("/ok")} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";

        var allowed = await SendFromAsync(IPAddress.Loopback, proxy.Endpoint, request);
        var refused = await SendFromAsync(IPAddress.Parse("127.0.0.2"), proxy.Endpoint, request);

        Assert.StartsWith("HTTP/1.1 200", allowed, StringComparison.Ordinal);
        Assert.StartsWith("HTTP/1.1 403 Forbidden", refused, StringComparison.Ordinal);
        Assert.EndsWith("\r\n\r\nclient 127.0.0.2 is not allowed to use this proxy\n", refused, StringComparison.Ordinal);
        Assert.Equal(1, proxy.Origin.CountRequests("/ok"));
    }

    [Theory]
    [InlineData("::1/128", "HTTP/1.1 200")]
    [InlineData("fd00::/8", "HTTP/1.1 403")]
    public async Task IPv6Client_IsJudgedByItsRange(string spec, string expected)
    {
        await using var proxy = await ProxyFixture.StartAsync(s => s with { Endpoint = new IPEndPoint(IPAddress.IPv6Loopback, 0), Access = ClientAccess.Parse([spec]) });
        proxy.Origin.Files["/v6"] = new OriginFile("six"u8.ToArray());

        var reply = await SendFromAsync(IPAddress.IPv6Loopback, proxy.Endpoint, $"GET {proxy.Origin.Url("/v6")} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");

        Assert.StartsWith(expected, reply, StringComparison.Ordinal);
    }

    private static Task<string> SendFromAsync(IPAddress source, IPEndPoint proxy, string request) => RawClient.ExchangeAsync(proxy, request, source: source);
}
