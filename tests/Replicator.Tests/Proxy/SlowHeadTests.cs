using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Time.Testing;
using Replicator.Proxy;
using Xunit.Abstractions;

namespace Replicator.Tests.Proxy;

/// <summary>
/// Slow and hostile clients and origins (issue 9): a head that trickles in is cut off by a deadline of its own, a
/// client not allowed is refused before it sends anything, and one address cannot hold every connection.
/// Time is a fake clock; each step waits for the proxy's loop to have taken what was sent (a barrier).
/// </summary>
public sealed class SlowHeadTests(ITestOutputHelper output)
{
    private static readonly IPAddress s_flooder = IPAddress.Parse("127.0.0.2");

    [Fact]
    public async Task RequestHead_SentOneLineAtATime_IsCutOffWith408AtTheHeadDeadline()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var proxy = await ProxyFixture.StartAsync(s => s with { Timeout = TimeSpan.FromHours(1), RequestHeadTimeout = TimeSpan.FromSeconds(30) }, clock, loops: 1);
        using var slow = await ConnectAsync(proxy, IPAddress.Loopback);

        await SendAsync(proxy, slow, $"GET {proxy.Origin.Url("/x")} HTTP/1.1\r\n");
        for (var line = 0; line < 3; line++)
        {
            clock.Advance(TimeSpan.FromSeconds(9));
            await SendAsync(proxy, slow, $"X-Line-{line}: a\r\n");
        }

        Assert.Equal(0, slow.Available);
        clock.Advance(TimeSpan.FromSeconds(3));

        var reply = await ReadToEndAsync(slow);
        Assert.StartsWith("HTTP/1.1 408 Request Timeout", reply, StringComparison.Ordinal);
        Assert.EndsWith("the request head did not arrive within 30 s\n", reply, StringComparison.Ordinal);
        Assert.Equal(0, proxy.Origin.CountRequests("/x"));
    }

    [Fact]
    public async Task IdleKeepAliveConnection_IsNotHeldToTheHeadDeadline()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var proxy = await ProxyFixture.StartAsync(s => s with { Timeout = TimeSpan.FromSeconds(60), RequestHeadTimeout = TimeSpan.FromSeconds(30) }, clock, loops: 1);
        proxy.Origin.Files["/k"] = new OriginFile("kept"u8.ToArray());
        using var client = await ConnectAsync(proxy, IPAddress.Loopback);

        clock.Advance(TimeSpan.FromSeconds(45));
        await proxy.Loops[0].InvokeAsync(() => 0);
        await client.SendAsync(Encoding.ASCII.GetBytes($"GET {proxy.Origin.Url("/k")} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));

        Assert.EndsWith("kept", await ReadToEndAsync(client), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ClientNotAllowed_IsRefusedAtOnce_WithoutSendingAHead()
    {
        await using var proxy = await ProxyFixture.StartAsync(s => s with { Access = ClientAccess.Parse(["127.0.0.1/32"]) });
        using var outsider = await ConnectAsync(proxy, s_flooder);

        var reply = await ReadToEndAsync(outsider);

        Assert.StartsWith("HTTP/1.1 403 Forbidden", reply, StringComparison.Ordinal);
        Assert.EndsWith("client 127.0.0.2 is not allowed to use this proxy\n", reply, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SlowHeadFlood_IsCappedPerAddress_OthersAreServedMeanwhile_AndTheFloodIsCutOff()
    {
        const int Cap = 64;
        const int Flood = 100;
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var proxy = await ProxyFixture.StartAsync(s => s with { Timeout = TimeSpan.FromHours(1), MaxClientConnections = Cap }, clock, loops: 1);
        proxy.Origin.Files["/normal"] = new OriginFile("served"u8.ToArray());
        var flood = new List<Socket>();
        try
        {
            for (var i = 0; i < Flood; i++)
            {
                var socket = await ConnectAsync(proxy, s_flooder);
                flood.Add(socket);
                await socket.SendAsync("GET http://127.0.0.1:1/ HTTP/1.1\r\n"u8.ToArray());
            }

            await proxy.Loops[0].InvokeAsync(() => 0);
            var refused = 0;
            foreach (var socket in flood.Skip(Cap))
            {
                var reply = await ReadToEndAsync(socket);
                Assert.StartsWith("HTTP/1.1 503 Service Unavailable", reply, StringComparison.Ordinal);
                refused++;
            }

            Assert.Equal(Flood - Cap, refused);
            Assert.Equal(Cap, await proxy.Loops[0].InvokeAsync(() => proxy.Server.Admission.OpenConnections(s_flooder)));

            // Another client is served while the flood holds its connections.
            var watch = Stopwatch.StartNew();
            using var normal = await ConnectAsync(proxy, IPAddress.Loopback);
            await normal.SendAsync(Encoding.ASCII.GetBytes($"GET {proxy.Origin.Url("/normal")} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
            Assert.EndsWith("served", await ReadToEndAsync(normal), StringComparison.Ordinal);
            output.WriteLine($"a normal request during a flood of {Cap} slow heads took {watch.Elapsed.TotalMilliseconds:0.0} ms");

            clock.Advance(TimeSpan.FromSeconds(30));
            foreach (var socket in flood.Take(Cap))
            {
                Assert.StartsWith("HTTP/1.1 408 ", await ReadToEndAsync(socket), StringComparison.Ordinal);
            }

            Assert.Equal(0, await proxy.Loops[0].InvokeAsync(() => proxy.Server.Admission.OpenConnections(s_flooder)));
        }
        finally
        {
            flood.ForEach(socket => socket.Dispose());
        }
    }

    [Fact]
    public async Task OriginTricklingItsHead_Is504AtTheResponseHeadDeadline()
    {
        using var origin = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        origin.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        origin.Listen();
        var port = ((IPEndPoint)origin.LocalEndPoint!).Port;
        var headBegun = new TaskCompletionSource<Socket>(TaskCreationOptions.RunContinuationsAsynchronously);
        _ = Task.Run(async () =>
        {
            var peer = await origin.AcceptAsync();
            var buffer = new byte[4096];
            var seen = string.Empty;
            while (!seen.Contains("\r\n\r\n", StringComparison.Ordinal))
            {
                seen += Encoding.ASCII.GetString(buffer, 0, await peer.ReceiveAsync(buffer));
            }

            await peer.SendAsync("HTTP/1.1 200 OK\r\n"u8.ToArray());
            headBegun.SetResult(peer);
        });
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var proxy = await ProxyFixture.StartAsync(s => s with { Timeout = TimeSpan.FromHours(1), ResponseHeadTimeout = TimeSpan.FromSeconds(60) }, clock, loops: 1);
        using var client = await ConnectAsync(proxy, IPAddress.Loopback);
        await client.SendAsync(Encoding.ASCII.GetBytes($"GET http://127.0.0.1:{port}/trickle HTTP/1.1\r\nHost: x\r\n\r\n"));
        using var peer = await headBegun.Task.WaitAsync(TimeSpan.FromSeconds(20));
        await proxy.Loops[0].InvokeAsync(() => 0);

        clock.Advance(TimeSpan.FromSeconds(30));
        await peer.SendAsync("X-Slow: 1\r\n"u8.ToArray());
        await proxy.Loops[0].InvokeAsync(() => 0);
        clock.Advance(TimeSpan.FromSeconds(29));
        await proxy.Loops[0].InvokeAsync(() => 0);
        Assert.Equal(0, client.Available);
        // Past the deadline by a second, then by a little more each turn: the loop may still be taking the line.
        for (var step = 0; step < 30 && !client.Poll(100_000, SelectMode.SelectRead); step++)
        {
            clock.Advance(TimeSpan.FromSeconds(1));
        }

        var reply = await ReadUntilAsync(client, text => text.EndsWith('\n') && text.Contains("\r\n\r\n", StringComparison.Ordinal));
        Assert.StartsWith("HTTP/1.1 504 Gateway Timeout", reply, StringComparison.Ordinal);
        Assert.EndsWith($"did not send a whole response head within 60 s\n", reply, StringComparison.Ordinal);
    }

    private static async Task<Socket> ConnectAsync(ProxyFixture proxy, IPAddress source)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(source, 0));
        await socket.ConnectAsync(proxy.Endpoint);
        return socket;
    }

    /// <summary>Sends, then lets every loop run: the proxy has taken the bytes and waits again.</summary>
    private static async Task SendAsync(ProxyFixture proxy, Socket socket, string text)
    {
        await socket.SendAsync(Encoding.ASCII.GetBytes(text));
        foreach (var loop in proxy.Loops)
        {
            await loop.InvokeAsync(() => 0);
            await loop.InvokeAsync(() => 0);
        }
    }

    private static Task<string> ReadToEndAsync(Socket socket) => RawClient.ReadAsync(socket);

    private static Task<string> ReadUntilAsync(Socket socket, Func<string, bool> until) => RawClient.ReadAsync(socket, until);
}
