using System.Net.Sockets;
using System.Text;

namespace Replicator.Tests;

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
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(replicator.Endpoint);

        await client.SendAsync("GET http://127.0.0.1:9/ HTTP/1.1\r\nHost: 127.0.0.1:9\r\nConnection: close\r\n\r\n"u8.ToArray());
        var reply = new MemoryStream();
        var buffer = new byte[1024];
        int n;
        while ((n = await client.ReceiveAsync(buffer).WaitAsync(TimeSpan.FromSeconds(20))) > 0)
        {
            reply.Write(buffer, 0, n);
        }

        Assert.StartsWith("HTTP/1.1 502 Bad Gateway", Encoding.ASCII.GetString(reply.ToArray()), StringComparison.Ordinal);
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
        Assert.Matches(@"\] 127\.0\.0\.1:\d+ GET http://127\.0\.0\.1:\d+/log\.txt 200 \d+ MISS \d+ms$", lines[0]);
        Assert.Matches(@" 200 \d+ HIT \d+ms$", lines[1]);
    }

    [Theory]
    [InlineData("--port", "99999", "--port")]
    [InlineData("--port", "eighty", "eighty")]
    [InlineData("--bind", "not-an-address", "--bind")]
    [InlineData("--timeout", "0", "--timeout")]
    [InlineData("--threads", "0", "--threads")]
    [InlineData("--no-such-option", "x", "--no-such-option")]
    [InlineData("--ip", "10.0.0.0/99", "--ip")]
    public async Task BadOption_IsOneLineNamingItAndExitCodeTwo(string option, string value, string named)
    {
        var (exitCode, _, stderr) = await ReplicatorProcess.RunToEndAsync(option, value);

        Assert.Equal(2, exitCode);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("replicator: ", line, StringComparison.Ordinal);
        Assert.Contains(named, line, StringComparison.Ordinal);
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
