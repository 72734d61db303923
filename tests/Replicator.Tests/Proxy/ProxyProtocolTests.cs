using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Time.Testing;
using Replicator.Proxy;

namespace Replicator.Tests.Proxy;

/// <summary>The proxy's protocol handling, black-box: raw sockets for what HttpClient would never send.</summary>
public sealed class ProxyProtocolTests
{
    [Fact]
    public async Task PipelinedRequests_AreAnsweredInOrderOnOneConnection()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        for (var i = 0; i < 5; i++)
        {
            proxy.Origin.Files[$"/p{i}"] = new OriginFile(Encoding.ASCII.GetBytes($"body-{i}"), CacheControl: i % 2 == 0 ? "max-age=60" : null);
        }

        // Warm two of them, so hits and misses interleave in the pipeline.
        await proxy.Client.GetAsync(proxy.Origin.Url("/p0"));
        await proxy.Client.GetAsync(proxy.Origin.Url("/p2"));
        var pipeline = string.Concat(Enumerable.Range(0, 5).Select(i => $"GET {proxy.Origin.Url($"/p{i}")} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));

        var reply = await proxy.RawAsync(pipeline, text => text.Contains("body-4", StringComparison.Ordinal));

        var order = Enumerable.Range(0, 5).Select(i => reply.IndexOf($"body-{i}", StringComparison.Ordinal)).ToList();
        Assert.All(order, position => Assert.True(position > 0));
        Assert.Equal(order.Order(), order);
        Assert.Equal(5, reply.Split("HTTP/1.1 200 OK").Length - 1);
    }

    [Fact]
    public async Task RequestArrivingOneByteAtATime_IsAnsweredOnce()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        proxy.Origin.Files["/slowly"] = new OriginFile("assembled"u8.ToArray());
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(proxy.Endpoint);

        foreach (var b in Encoding.ASCII.GetBytes($"GET {proxy.Origin.Url("/slowly")} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))
        {
            await socket.SendAsync(new[] { b });
        }

        var reply = await RawClient.ReadAsync(socket);

        Assert.StartsWith("HTTP/1.1 200 OK", reply, StringComparison.Ordinal);
        Assert.EndsWith("\r\n\r\nassembled", reply, StringComparison.Ordinal);
        Assert.Equal(1, proxy.Origin.CountRequests("/slowly"));
    }

    [Fact]
    public async Task Http10Client_GetsAClosedDelimitedBodyForAChunkedOrigin()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        proxy.Origin.Files["/old"] = new OriginFile(new byte[3000], Chunked: true);

        var reply = await proxy.RawAsync($"GET {proxy.Origin.Url("/old")} HTTP/1.0\r\n\r\n");

        Assert.StartsWith("HTTP/1.1 200", reply, StringComparison.Ordinal);
        Assert.DoesNotContain("chunked", reply, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(3000, reply[(reply.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4)..].Length);
    }

    [Fact]
    public async Task Connect_ToAnAllowedPort_OpensATunnel()
    {
        using var echo = new LoopbackEcho();
        var echoPort = echo.Port;
        await using var proxy = await ProxyFixture.StartAsync(s => s with { ConnectPorts = new HashSet<int> { echoPort } });

        var reply = await proxy.RawAsync($"CONNECT 127.0.0.1:{echoPort} HTTP/1.1\r\nHost: 127.0.0.1:{echoPort}\r\n\r\nthrough the tunnel", text => text.EndsWith("tunnel", StringComparison.Ordinal));

        Assert.Equal("HTTP/1.1 200 Connection Established\r\n\r\nthrough the tunnel", reply);
    }

    [Fact]
    public async Task Connect_ToAPortNotAllowed_Is403()
    {
        await using var proxy = await ProxyFixture.StartAsync();

        var reply = await proxy.RawAsync("CONNECT 127.0.0.1:25 HTTP/1.1\r\nHost: 127.0.0.1:25\r\n\r\n");

        Assert.StartsWith("HTTP/1.1 403 Forbidden", reply, StringComparison.Ordinal);
        Assert.EndsWith("\r\n\r\nCONNECT to port 25 is not allowed\n", reply, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/../../escaped")]
    [InlineData("/a/../../../escaped")]
    [InlineData("/%2e%2e/%2e%2e/escaped")]
    [InlineData("/..%2f..%2fescaped")]
    [InlineData("/./../escaped")]
    public async Task TraversalAttempts_NeverWriteOutsideTheRoot(string path)
    {
        await TraversalNeverEscapesAsync(path, "x");
    }

    [Fact]
    public async Task HostFieldWithPathCharacters_DoesNotChooseTheCachePath()
    {
        await TraversalNeverEscapesAsync("/escaped", "../../x/");
    }

    private static async Task TraversalNeverEscapesAsync(string path, string hostField)
    {
        await using var proxy = await ProxyFixture.StartAsync();
        proxy.Origin.Files["/escaped"] = new OriginFile("x"u8.ToArray(), CacheControl: "max-age=60");
        proxy.Origin.Files["/..%2F..%2Fescaped"] = new OriginFile("y"u8.ToArray(), CacheControl: "max-age=60");
        var outside = Path.GetDirectoryName(proxy.Root)!;

        var reply = await proxy.RawAsync($"GET http://127.0.0.1:{proxy.Origin.Port}{path} HTTP/1.1\r\nHost: {hostField}\r\nConnection: close\r\n\r\n");

        Assert.StartsWith("HTTP/1.1 200", reply, StringComparison.Ordinal);
        Assert.Equal(["cache"], Directory.GetFileSystemEntries(outside).Select(Path.GetFileName));
        var stored = Directory.GetFiles(proxy.Root, "*", SearchOption.AllDirectories).Where(f => !f.Contains("/.replicator/", StringComparison.Ordinal)).ToList();
        var file = Assert.Single(stored);
        Assert.StartsWith(Path.Combine(proxy.Root, $"127.0.0.1:{proxy.Origin.Port}") + "/", file, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("GET http://a/b/c HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", 502)]
    [InlineData("GET http://exa mple/ HTTP/1.1\r\n\r\n", 400)]
    [InlineData("GET http://host/%zz HTTP/1.1\r\nHost: host\r\n\r\n", 400)]
    [InlineData("GET http://user@host/ HTTP/1.1\r\n\r\n", 400)]
    [InlineData("GET ftp://host/file HTTP/1.1\r\n\r\n", 400)]
    [InlineData("GET http://host/ HTTP/2.0\r\n\r\n", 505)]
    [InlineData("GET http://host/ HTTP/1.1\r\nBad Header: x\r\n\r\n", 400)]
    [InlineData("GET http://host/ HTTP/1.1\r\nX: a\0b\r\n\r\n", 400)]
    [InlineData("GET http://host/ HTTP/1.1\r\n folded: x\r\n\r\n", 400)]
    [InlineData("POST http://host/ HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400)]
    public async Task BadRequests_GetTheirStatusAndAOneLineReason(string request, int status)
    {
        await using var proxy = await ProxyFixture.StartAsync(s => s with { Timeout = TimeSpan.FromSeconds(5) });

        var reply = await proxy.RawAsync(request.Replace("http://a/", $"http://127.0.0.1:{TestPorts.Closed()}/", StringComparison.Ordinal));

        Assert.StartsWith($"HTTP/1.1 {status} ", reply, StringComparison.Ordinal);
        var body = reply[(reply.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4)..];
        Assert.Single(body.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.DoesNotContain("   at ", body, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ClientHangingUpDuringAHitOrAMiss_IsLoggedAborted(bool cachedFirst)
    {
        await using var proxy = await ProxyFixture.StartAsync();
        proxy.Origin.Files["/large"] = new OriginFile(new byte[32 * 1024 * 1024], CacheControl: "max-age=600");
        if (cachedFirst)
        {
            await proxy.Client.GetByteArrayAsync(proxy.Origin.Url("/large"));
        }

        using (var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            await client.ConnectAsync(proxy.Endpoint);
            await client.SendAsync(Encoding.ASCII.GetBytes($"GET {proxy.Origin.Url("/large")} HTTP/1.1\r\nHost: x\r\n\r\n"));
            Assert.True(await client.ReceiveAsync(new byte[4096]).WaitAsync(TimeSpan.FromSeconds(20)) > 0);
            client.LingerState = new LingerOption(true, 0);
        }

        var outcomes = await proxy.Accesses.OutcomesAsync(proxy.Origin.Url("/large"), cachedFirst ? 2 : 1);
        Assert.Equal("ABORTED", outcomes[^1]);
    }

    [Fact]
    public async Task NameResolvingToLoopback_IsRefusedByDefault()
    {
        // "localhost" resolves from /etc/hosts, without any network: the check is made on the resolved addresses.
        await using var proxy = await ProxyFixture.StartAsync(s => s with { Upstream = UpstreamAccess.Default });
        proxy.Origin.Files["/private"] = new OriginFile("private"u8.ToArray());

        var reply = await proxy.RawAsync($"GET http://localhost:{proxy.Origin.Port}/private HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");

        Assert.StartsWith("HTTP/1.1 403 Forbidden", reply, StringComparison.Ordinal);
        Assert.Contains("internal address", reply, StringComparison.Ordinal);
        Assert.Equal(0, proxy.Origin.CountRequests("/private"));
        Assert.Equal(["ERROR:proxy"], await proxy.Accesses.OutcomesAsync($"http://localhost:{proxy.Origin.Port}/private", 1));
    }

    [Fact]
    public async Task PortOutsideTheSafeList_IsRefused()
    {
        await using var proxy = await ProxyFixture.StartAsync();

        var reply = await proxy.RawAsync("GET http://127.0.0.1:25/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");

        Assert.StartsWith("HTTP/1.1 403 Forbidden", reply, StringComparison.Ordinal);
        Assert.EndsWith("port 25 is not one this proxy reaches (--allow-port opens a port)\n", reply, StringComparison.Ordinal);
    }

    [Fact]
    public async Task MalformedChunkedRequestBody_Is400_NotBlamedOnTheOrigin()
    {
        await using var proxy = await ProxyFixture.StartAsync(s => s with { Timeout = TimeSpan.FromSeconds(5) });

        var reply = await proxy.RawAsync($"POST {proxy.Origin.Url("/upload")} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nbad\r\n0\r\n\r\n");

        Assert.StartsWith("HTTP/1.1 400 ", reply, StringComparison.Ordinal);
        Assert.Contains("request body", reply, StringComparison.Ordinal);
        Assert.Equal(["ERROR:client"], await proxy.Accesses.OutcomesAsync(proxy.Origin.Url("/upload"), 1));
    }

    [Fact]
    public async Task OverlongRequestLine_Is414()
    {
        await using var proxy = await ProxyFixture.StartAsync();

        var reply = await proxy.RawAsync($"GET http://host/{new string('a', 10_000)} HTTP/1.1\r\n\r\n");

        Assert.StartsWith("HTTP/1.1 414 ", reply, StringComparison.Ordinal);
    }

    [Fact]
    public async Task OverlongHeaderBlock_Is431()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        var fields = string.Concat(Enumerable.Range(0, 800).Select(i => $"X-Filler-{i}: {new string('f', 100)}\r\n"));

        var reply = await proxy.RawAsync($"GET http://host/ HTTP/1.1\r\nHost: host\r\n{fields}\r\n");

        Assert.StartsWith("HTTP/1.1 431 ", reply, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UpstreamRefusingConnections_Is502()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        int closedPort;
        using (var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            closedPort = ((IPEndPoint)probe.LocalEndPoint!).Port;
        }

        var reply = await proxy.Client.GetAsync($"http://127.0.0.1:{closedPort}/x");

        Assert.Equal(HttpStatusCode.BadGateway, reply.StatusCode);
        Assert.Equal($"upstream 127.0.0.1:{closedPort} refused the connection\n", await reply.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task UpstreamThatNeverAnswers_Is504AfterTheTimeout()
    {
        using var silent = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        silent.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        silent.Listen();
        var silentPort = ((IPEndPoint)silent.LocalEndPoint!).Port;
        var requestArrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Socket? peer = null;
        _ = Task.Run(async () =>
        {
            // Kept in the test's scope: a socket only a finished task refers to can be finalized, closing it.
            peer = await silent.AcceptAsync();
            var buffer = new byte[4096];
            var seen = string.Empty;
            while (!seen.Contains("\r\n\r\n", StringComparison.Ordinal))
            {
                seen += Encoding.ASCII.GetString(buffer, 0, await peer.ReceiveAsync(buffer));
            }

            requestArrived.SetResult();
        });
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var proxy = await ProxyFixture.StartAsync(clock: clock, loops: 1);

        var reply = proxy.RawAsync($"GET http://127.0.0.1:{silentPort}/slow HTTP/1.1\r\nHost: x\r\n\r\n", text => text.EndsWith('\n') && text.Contains("\r\n\r\n", StringComparison.Ordinal));
        await requestArrived.Task.WaitAsync(TimeSpan.FromSeconds(20));
        await proxy.Loops[0].InvokeAsync(() => 0); // the proxy's fiber has reached its wait for the response
        clock.Advance(TimeSpan.FromSeconds(15));

        var text = await reply;
        peer?.Dispose();
        Assert.StartsWith("HTTP/1.1 504 Gateway Timeout", text, StringComparison.Ordinal);
        Assert.EndsWith($"upstream 127.0.0.1:{silentPort} did not answer within 15 s\n", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task OriginFormRequest_ToTheProxyItself_GetsItsPage()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        proxy.Origin.Files["/seed"] = new OriginFile("s"u8.ToArray(), CacheControl: "max-age=60");
        await proxy.Client.GetAsync(proxy.Origin.Url("/seed"));

        var reply = await proxy.RawAsync("GET / HTTP/1.1\r\nHost: proxy\r\nConnection: close\r\n\r\n");

        Assert.StartsWith("HTTP/1.1 200 OK", reply, StringComparison.Ordinal);
        Assert.Contains("text/html", reply, StringComparison.Ordinal);
        Assert.Contains($"127.0.0.1:{proxy.Origin.Port}/", reply, StringComparison.Ordinal);
    }
}
