using System.Net;
using System.Net.Sockets;
using System.Text;
using Replicator.Proxy;

namespace Replicator.Tests.Proxy;

/// <summary>--external: Replicator behind a parent proxy, through real sockets.</summary>
public sealed class ParentProxyTests
{
    [Fact]
    public async Task TwoReplicatorsChained_BothMirrorTheFile_AndTheOriginSeesOneRequest()
    {
        await using var parent = await ProxyFixture.StartAsync();
        var through = new ParentProxy("127.0.0.1", parent.Endpoint.Port, null);
        await using var child = await ProxyFixture.StartAsync(s => s with { External = through });
        child.Origin.Files["/chained"] = new OriginFile("via two"u8.ToArray(), CacheControl: "max-age=600");

        Assert.Equal("via two", await child.Client.GetStringAsync(child.Origin.Url("/chained")));
        Assert.Equal("via two", await child.Client.GetStringAsync(child.Origin.Url("/chained")));

        Assert.Equal(1, child.Origin.CountRequests("/chained"));
        Assert.Equal(2, child.Origin.Requests.Single(r => r.PathAndQuery == "/chained").Headers["Via"].Split("replicator").Length - 1);
        Assert.Equal("via two", File.ReadAllText(child.CachedPath("/chained")));
        await parent.SettledAsync(); // the child's client waits for the child's commits, not the parent's
        Assert.Equal("via two", File.ReadAllText(Path.Combine(parent.Root, $"127.0.0.1:{child.Origin.Port}", "chained")));
    }

    [Fact]
    public async Task Credentials_AreSentToTheParent_WithTheAbsoluteUrl()
    {
        using var fakeParent = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        fakeParent.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        fakeParent.Listen();
        var seen = RecordOneRequestAsync(fakeParent, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
        var through = ParentProxy.Parse($"user:pass@127.0.0.1:{((IPEndPoint)fakeParent.LocalEndPoint!).Port}");
        await using var child = await ProxyFixture.StartAsync(s => s with { External = through });

        Assert.Equal("ok", await child.Client.GetStringAsync("http://127.0.0.1:8009/behind"));

        var head = await seen;
        Assert.StartsWith("GET http://127.0.0.1:8009/behind HTTP/1.1\r\n", head, StringComparison.Ordinal);
        Assert.Contains("\r\nProxy-Authorization: Basic dXNlcjpwYXNz\r\n", head, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Connect_GoesThroughTheParent()
    {
        using var echo = new LoopbackEcho();
        var echoPort = echo.Port;
        await using var parent = await ProxyFixture.StartAsync(s => s with { ConnectPorts = new HashSet<int> { echoPort } });
        var through = new ParentProxy("127.0.0.1", parent.Endpoint.Port, null);
        await using var child = await ProxyFixture.StartAsync(s => s with { External = through, ConnectPorts = new HashSet<int> { echoPort } });

        var reply = await child.RawAsync($"CONNECT 127.0.0.1:{echoPort} HTTP/1.1\r\nHost: 127.0.0.1:{echoPort}\r\n\r\nhello parent", text => text.EndsWith("parent", StringComparison.Ordinal));

        Assert.Equal("HTTP/1.1 200 Connection Established\r\n\r\nhello parent", reply);
    }

    [Theory]
    [InlineData("host-without-port")]
    [InlineData("user@host:3128")]
    [InlineData("bad host:3128")]
    public void Parse_BadValue_IsRefused(string value)
    {
        Assert.Throws<FormatException>(() => ParentProxy.Parse(value));
    }

    private static async Task<string> RecordOneRequestAsync(Socket listener, string answer)
    {
        using var peer = await listener.AcceptAsync();
        var head = new StringBuilder();
        var buffer = new byte[4096];
        while (!head.ToString().Contains("\r\n\r\n", StringComparison.Ordinal))
        {
            var n = await peer.ReceiveAsync(buffer);
            if (n == 0)
            {
                break;
            }

            head.Append(Encoding.ASCII.GetString(buffer, 0, n));
        }

        await peer.SendAsync(Encoding.ASCII.GetBytes(answer));
        return head.ToString();
    }
}
