using System.Net.Sockets;
using System.Text;

namespace Replicator.Tests.Hosting;

public sealed class ProgramTests : IDisposable
{
    private const int SIGTERM = 15;
    private const int SIGINT = 2;
    private readonly string _root = Path.Combine(Path.GetTempPath(), "replicator-test-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }

    [Theory]
    [InlineData(SIGTERM)]
    [InlineData(SIGINT)]
    public async Task Signal_WhileListening_StopsCleanlyWithExitCodeZero(int signal)
    {
        using var replicator = await ReplicatorProcess.StartAsync("--port", "0", "--root", _root);
        Assert.True(Directory.Exists(_root));

        // An idle client connection must not hold the stop up.
        using var idle = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await idle.ConnectAsync(replicator.Endpoint);
        replicator.Signal(signal);

        var exitCode = await replicator.WaitForExitAsync();
        Assert.True(exitCode == 0, $"exit code {exitCode}:\n{string.Join('\n', replicator.Output)}");
        Assert.Contains(replicator.Output, line => line.Contains("stopped", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Request_ForAnUnreachableOrigin_Gets502FromTheRunningProgram()
    {
        using var replicator = await ReplicatorProcess.StartAsync("--port", "0", "--root", _root);
        var closed = TestPorts.Closed();

        var reply = await RequestAsync(replicator, $"GET http://127.0.0.1:{closed}/ HTTP/1.1\r\nHost: 127.0.0.1:{closed}\r\nConnection: close\r\n\r\n");

        Assert.StartsWith("HTTP/1.1 502 Bad Gateway", reply, StringComparison.Ordinal);
    }

    [Fact]
    public async Task EveryRequest_WritesOneAccessLogLine()
    {
        await using var origin = await TestOrigin.StartAsync();
        origin.Files["/log.txt"] = new OriginFile("logged"u8.ToArray(), CacheControl: "max-age=60");
        using var replicator = await ReplicatorProcess.StartAsync("--port", "0", "--root", _root);
        using var client = new HttpClient(new HttpClientHandler { Proxy = new System.Net.WebProxy($"http://{replicator.Endpoint}"), UseProxy = true });

        await client.GetStringAsync(origin.Url("/log.txt"));
        await client.GetStringAsync(origin.Url("/log.txt"));
        replicator.Signal(SIGTERM);
        await replicator.WaitForExitAsync();

        var lines = replicator.Output.Where(line => line.Contains(" GET " + origin.Url("/log.txt") + " ", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, lines.Count);
        Assert.Matches(@"\] 127\.0\.0\.1:\d+ GET http://127\.0\.0\.1:\d+/log\.txt 200 \d+ MISS other \d+ms$", lines[0]);
        Assert.Matches(@" 200 \d+ HIT other \d+ms$", lines[1]);
    }

    [Fact]
    public async Task LogFile_IsAppendedTo_ReopenedOnSighup_AndThePidFileComesAndGoes()
    {
        const int SIGHUP = 1;
        await using var origin = await TestOrigin.StartAsync();
        origin.Files["/before"] = new OriginFile("1"u8.ToArray());
        origin.Files["/after"] = new OriginFile("2"u8.ToArray());
        Directory.CreateDirectory(_root);
        var log = Path.Combine(_root, "replicator.log");
        var pid = Path.Combine(_root, "replicator.pid");
        File.WriteAllText(log, "an older line\n");
        using var replicator = await ReplicatorProcess.StartAsync("--port", "0", "--root", Path.Combine(_root, "cache"), "--log", log, "--pid", pid);
        Assert.Equal(replicator.Process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture), File.ReadAllText(pid).Trim());

        await RequestAndCloseAsync(replicator, origin.Url("/before"));
        File.Move(log, log + ".1");
        replicator.Signal(SIGHUP);
        await replicator.WaitForLineAsync(line => line.Contains("reopened", StringComparison.Ordinal));
        await RequestAndCloseAsync(replicator, origin.Url("/after"));
        replicator.Signal(SIGTERM);

        Assert.Equal(0, await replicator.WaitForExitAsync());
        var rotated = File.ReadAllText(log + ".1");
        var current = File.ReadAllText(log);
        Assert.StartsWith("an older line\n", rotated, StringComparison.Ordinal);
        Assert.Contains(origin.Url("/before"), rotated, StringComparison.Ordinal);
        Assert.DoesNotContain(origin.Url("/after"), rotated, StringComparison.Ordinal);
        Assert.Contains(origin.Url("/after"), current, StringComparison.Ordinal);
        Assert.False(File.Exists(pid));
    }

    [Theory]
    [InlineData("epoll")]
    [InlineData("poll")]
    public async Task AfterIdleTimeouts_EveryNewConnectionIsStillServed(string poller)
    {
        // Issue 9: a connection closed by its idle timeout left its descriptor number "armed"; the next connection
        // given that number was never registered and hung for 15 s with no answer.
        await using var origin = await TestOrigin.StartAsync();
        origin.Files["/after-idle"] = new OriginFile("answered"u8.ToArray(), CacheControl: "max-age=600");
        using var replicator = await ReplicatorProcess.StartWithEnvironmentAsync(new() { ["REPLICATOR_POLLER"] = poller }, "--port", "0", "--root", _root, "--threads", "1", "--timeout", "1");

        for (var round = 0; round < 3; round++)
        {
            Assert.EndsWith("answered", await RequestAsync(replicator, $"GET {origin.Url("/after-idle")} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"), StringComparison.Ordinal);
            using var idle = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await idle.ConnectAsync(replicator.Endpoint);
            // The proxy closes it after --timeout: the end of stream is what the test waits for.
            Assert.Equal(0, await idle.ReceiveAsync(new byte[1]).WaitAsync(TimeSpan.FromSeconds(20)));
        }

        Assert.EndsWith("answered", await RequestAsync(replicator, $"GET {origin.Url("/after-idle")} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Options_BindV6_Static_Timeout_ConnectPort_WorkInTheRunningProgram()
    {
        await using var origin = await TestOrigin.StartAsync();
        origin.Files["/s"] = new OriginFile("static"u8.ToArray(), CacheControl: "max-age=0");
        using var echo = new LoopbackEcho();
        using var replicator = await ReplicatorProcess.StartAsync("--port", "0", "--root", _root, "--bind", "::1", "--static", "--timeout", "2", "--finish-below", "0", "--connect-port", echo.Port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(System.Net.IPAddress.IPv6Loopback, replicator.Endpoint.Address);

        // --static: the second request is served without asking the origin, although max-age=0.
        for (var i = 0; i < 2; i++)
        {
            Assert.EndsWith("static", await RequestAsync(replicator, $"GET {origin.Url("/s")} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"), StringComparison.Ordinal);
        }

        Assert.Equal(1, origin.CountRequests("/s"));

        // --connect-port: a tunnel to the echo server's port.
        using (var tunnel = new Socket(AddressFamily.InterNetworkV6, SocketType.Stream, ProtocolType.Tcp))
        {
            await tunnel.ConnectAsync(replicator.Endpoint);
            await tunnel.SendAsync(Encoding.ASCII.GetBytes($"CONNECT 127.0.0.1:{echo.Port} HTTP/1.1\r\nHost: x\r\n\r\n"));
            var buffer = new byte[256];
            var n = await tunnel.ReceiveAsync(buffer).WaitAsync(TimeSpan.FromSeconds(20));
            Assert.StartsWith("HTTP/1.1 200", Encoding.ASCII.GetString(buffer, 0, n), StringComparison.Ordinal);
        }

        // --timeout 2: an idle connection is closed by the proxy (the end of stream is what is awaited).
        using var idle = new Socket(AddressFamily.InterNetworkV6, SocketType.Stream, ProtocolType.Tcp);
        await idle.ConnectAsync(replicator.Endpoint);
        Assert.Equal(0, await idle.ReceiveAsync(new byte[1]).WaitAsync(TimeSpan.FromSeconds(20)));
    }

    [Fact]
    public async Task Offline_TheRunningProgramNeverConnectsUpstream()
    {
        await using var origin = await TestOrigin.StartAsync();
        origin.Files["/o"] = new OriginFile("o"u8.ToArray());
        using var replicator = await ReplicatorProcess.StartAsync("--port", "0", "--root", _root, "--offline");

        var reply = await RequestAsync(replicator, $"GET {origin.Url("/o")} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");

        Assert.StartsWith("HTTP/1.1 504 ", reply, StringComparison.Ordinal);
        Assert.Contains("offline: ", reply, StringComparison.Ordinal);
        Assert.Equal(0, origin.CountRequests("/o"));
    }

    [Fact]
    public async Task ClientHangingUpDuringAPassThrough_IsBlamedOnTheClient_NotTheOrigin()
    {
        // Issue 10: "502 upstream ... broke off the body: Connection reset by peer", and an access line with ERROR,
        // when it was the client that left.
        await using var origin = await TestOrigin.StartAsync();
        origin.Files["/big"] = new OriginFile(new byte[16 * 1024 * 1024], CacheControl: "no-store");
        using var replicator = await ReplicatorProcess.StartAsync("--port", "0", "--root", _root);
        var url = origin.Url("/big");
        var logged = replicator.WaitForLineAsync(line => line.Contains($" GET {url} ", StringComparison.Ordinal));

        using (var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            await client.ConnectAsync(replicator.Endpoint);
            await client.SendAsync(Encoding.ASCII.GetBytes($"GET {url} HTTP/1.1\r\nHost: x\r\n\r\n"));
            var buffer = new byte[65536];
            Assert.True(await client.ReceiveAsync(buffer).WaitAsync(TimeSpan.FromSeconds(20)) > 0);
            client.LingerState = new LingerOption(true, 0);
        }

        await logged.WaitAsync(TimeSpan.FromSeconds(30));
        // The access line is written at once; the connection's other lines come as one block when it ends.
        await replicator.WaitForLineAsync(line => line.Contains("hung up", StringComparison.Ordinal));
        var output = string.Join('\n', replicator.Output);
        Assert.DoesNotContain("broke off the body", output, StringComparison.Ordinal);
        Assert.Matches($@" GET {System.Text.RegularExpressions.Regex.Escape(url)} 200 \d+ ABORTED other \d+ms", output);
    }

    [Fact]
    public async Task Sighup_WithoutRotation_LosesAndOverwritesNoLine()
    {
        const int SIGHUP = 1;
        await using var origin = await TestOrigin.StartAsync();
        Directory.CreateDirectory(_root);
        var log = Path.Combine(_root, "replicator.log");
        File.WriteAllText(log, "an older line\n");
        using var replicator = await ReplicatorProcess.StartAsync("--port", "0", "--root", Path.Combine(_root, "cache"), "--log", log);

        for (var round = 0; round < 3; round++)
        {
            origin.Files[$"/before{round}"] = new OriginFile("1"u8.ToArray());
            origin.Files[$"/after{round}"] = new OriginFile("2"u8.ToArray());
            // Logged but still buffered when the signal comes (the log is flushed four times a second).
            await RequestAndCloseAsync(replicator, origin.Url($"/before{round}"));
            replicator.Signal(SIGHUP);
            await replicator.WaitForLineAsync(line => line.Contains("reopened", StringComparison.Ordinal) && replicator.Output.Count(l => l.Contains("reopened", StringComparison.Ordinal)) == round + 1);
            await RequestAndCloseAsync(replicator, origin.Url($"/after{round}"));
        }

        replicator.Signal(SIGTERM);
        Assert.Equal(0, await replicator.WaitForExitAsync());
        var lines = File.ReadAllLines(log);
        Assert.Equal("an older line", lines[0]);
        for (var round = 0; round < 3; round++)
        {
            Assert.Single(lines, line => line.Contains(" GET " + origin.Url($"/before{round}") + " ", StringComparison.Ordinal));
            Assert.Single(lines, line => line.Contains(" GET " + origin.Url($"/after{round}") + " ", StringComparison.Ordinal));
        }

        Assert.Equal(3, lines.Count(line => line.Contains("SIGHUP: log", StringComparison.Ordinal)));
        Assert.All(lines.Where(line => line.StartsWith('[')), line => Assert.Matches(@"^\[[^\]]*\] ", line));
    }

    /// <summary>One request on its own connection, read to the end: the proxy logs it before it closes.</summary>
    private static Task<string> RequestAndCloseAsync(ReplicatorProcess replicator, string url) =>
        RawClient.ExchangeAsync(replicator.Endpoint, $"GET {url} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");

    [Fact]
    public async Task VeryVerbose_LogsEveryHeadLine()
    {
        await using var origin = await TestOrigin.StartAsync();
        origin.Files["/vv"] = new OriginFile("v"u8.ToArray(), "text/x-traced");
        using var replicator = await ReplicatorProcess.StartAsync("--port", "0", "--root", _root, "-vv");

        await RequestAndCloseAsync(replicator, origin.Url("/vv"));
        replicator.Signal(SIGTERM);
        Assert.Equal(0, await replicator.WaitForExitAsync());

        var output = string.Join('\n', replicator.Output);
        Assert.Contains($"Client sends GET {origin.Url("/vv")} HTTP/1.1", output, StringComparison.Ordinal);
        Assert.Contains("  Host: x", output, StringComparison.Ordinal);
        Assert.Contains("Server responds HTTP/1.1 200", output, StringComparison.Ordinal);
        Assert.Contains("  Content-Type: text/x-traced", output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--port", "99999", "--port")]
    [InlineData("--port", "eighty", "eighty")]
    [InlineData("--bind", "not-an-address", "--bind")]
    [InlineData("--timeout", "0", "--timeout")]
    [InlineData("--threads", "0", "--threads")]
    [InlineData("--no-such-option", "x", "--no-such-option")]
    [InlineData("--ip", "10.0.0.0/99", "--ip")]
    [InlineData("--limit", "-5", "--limit")]
    [InlineData("--external", "no-port", "--external")]
    [InlineData("--alias", "../escape:h/x", "--alias")]
    [InlineData("--port", "abc", "--port: 'abc' is not a TCP port (0-65535)")]
    [InlineData("--bind", "1.2.3", "--bind: '1.2.3' is not an IPv4 address")]
    [InlineData("--finish-below", "-1", "--finish-below: '-1' is not a number of bytes")]
    [InlineData("--timeout", "x", "--timeout")]
    [InlineData("--connect-port", "0", "--connect-port")]
    [InlineData("--allow-to", "127.0.0.1/40", "--allow-to")]
    [InlineData("--allow-port", "1-99999", "--allow-port")]
    [InlineData("--head-timeout", "0", "--head-timeout")]
    [InlineData("--max-client-connections", "-1", "--max-client-connections")]
    [InlineData("--config", "/nonexistent/replicator.conf", "--config")]
    public async Task BadOption_IsOneLineNamingItAndExitCodeTwo(string option, string value, string named)
    {
        var (exitCode, _, stderr) = await ReplicatorProcess.RunToEndAsync(option, value);

        Assert.Equal(2, exitCode);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("replicator: ", line, StringComparison.Ordinal);
        Assert.Contains(named, line, StringComparison.Ordinal);
        Assert.DoesNotContain("System.", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UncreatableRoot_IsOnePlainLine()
    {
        var (exitCode, _, stderr) = await ReplicatorProcess.RunToEndAsync("--port", "0", "--root", "/proc/x");

        Assert.Equal(1, exitCode);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("replicator: cannot create the cache root /proc/x: ", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ConnectPort_KeepsPort443()
    {
        using var replicator = await ReplicatorProcess.StartAsync("--port", "0", "--root", _root, "--connect-port", "8443");

        var reply = await RequestAsync(replicator, "CONNECT 127.0.0.1:443 HTTP/1.1\r\nHost: 127.0.0.1:443\r\n\r\n");

        Assert.DoesNotContain("is not allowed", reply, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ByDefault_LoopbackOriginsAreRefused_AndAllowToOpensThem()
    {
        await using var origin = await TestOrigin.StartAsync();
        origin.Files["/internal"] = new OriginFile("secret"u8.ToArray());
        using (var strict = await ReplicatorProcess.StartBareAsync("--port", "0", "--root", _root))
        {
            var refused = await RequestAsync(strict, $"GET {origin.Url("/internal")} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            Assert.StartsWith("HTTP/1.1 403 ", refused, StringComparison.Ordinal);
            Assert.Contains("internal address", refused, StringComparison.Ordinal);
            Assert.DoesNotContain("secret", refused, StringComparison.Ordinal);

            var tunnel = await RequestAsync(strict, $"CONNECT 127.0.0.1:443 HTTP/1.1\r\nHost: 127.0.0.1:443\r\n\r\n");
            Assert.StartsWith("HTTP/1.1 403 ", tunnel, StringComparison.Ordinal);
        }

        using var open = await ReplicatorProcess.StartBareAsync("--port", "0", "--root", _root, "--allow-to", "127.0.0.0/8");
        var served = await RequestAsync(open, $"GET {origin.Url("/internal")} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 200 ", served, StringComparison.Ordinal);
        Assert.EndsWith("secret", served, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ConfigFile_ConfiguresTheRunningProgram()
    {
        Directory.CreateDirectory(_root);
        var config = Path.Combine(_root, "replicator.conf");
        File.WriteAllText(config, $"# test\nport = 0\nroot = {Path.Combine(_root, "from-config")}\nallow-to = 127.0.0.0/8\n");
        await using var origin = await TestOrigin.StartAsync();
        origin.Files["/c"] = new OriginFile("configured"u8.ToArray());
        using var replicator = await ReplicatorProcess.StartBareAsync("--config", config);

        var reply = await RequestAsync(replicator, $"GET {origin.Url("/c")} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");

        Assert.EndsWith("configured", reply, StringComparison.Ordinal);
        Assert.Contains(replicator.Output, line => line.Contains("cache in " + Path.Combine(_root, "from-config"), StringComparison.Ordinal));
    }

    /// <summary>Sends raw bytes on a new connection and reads until the proxy closes it.</summary>
    private static Task<string> RequestAsync(ReplicatorProcess replicator, string request) => RawClient.ExchangeAsync(replicator.Endpoint, request);

    [Fact]
    public async Task SecondInstanceOnTheSamePort_FailsInsteadOfSharingIt()
    {
        using var first = await ReplicatorProcess.StartAsync("--port", "0", "--root", _root, "--threads", "2");
        var port = first.Endpoint.Port.ToString(System.Globalization.CultureInfo.InvariantCulture);

        var (exitCode, _, stderr) = await ReplicatorProcess.RunToEndAsync("--port", port, "--root", _root, "--threads", "2");

        Assert.Equal(1, exitCode);
        Assert.StartsWith("replicator: cannot listen on", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PortInUse_IsOneLineAndANonZeroExit()
    {
        using var holder = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        holder.Bind(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0));
        holder.Listen();
        var port = ((System.Net.IPEndPoint)holder.LocalEndPoint!).Port;

        var (exitCode, _, stderr) = await ReplicatorProcess.RunToEndAsync("--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--root", _root);

        Assert.NotEqual(0, exitCode);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("replicator: cannot listen on", line, StringComparison.Ordinal);
    }
}
