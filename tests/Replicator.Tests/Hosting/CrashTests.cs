namespace Replicator.Tests.Hosting;

/// <summary>kill -9 in the middle of a download, then a restart on the same cache: nothing torn is ever served.</summary>
public sealed class CrashTests : IDisposable
{
    private const int SIGKILL = 9;
    private readonly string _root = Path.Combine(Path.GetTempPath(), "replicator-crash-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }

    [Theory]
    [InlineData("64M")] // written through the page cache
    [InlineData("1M")] // written around it (O_DIRECT), cut mid-block
    public async Task KilledDuringADownload_RestartResumesAndServesTheExactBody(string directIo)
    {
        await using var origin = await TestOrigin.StartAsync();
        var never = new TaskCompletionSource();
        var body = TestBodies.Random(seed: 3, size: (4 * 1024 * 1024) + 1001);
        var file = origin.Files["/iso"] = new OriginFile(body, ETag: "\"iso-1\"", PauseAt: body.Length / 2, Resume: never.Task);
        try
        {
            using (var first = await ReplicatorProcess.StartAsync("--port", "0", "--root", _root, "--direct-io", directIo))
            {
                using var client = Client(first);
                using var response = await client.GetAsync(origin.Url("/iso"), HttpCompletionOption.ResponseHeadersRead);
                var stream = await response.Content.ReadAsStreamAsync();
                var half = new byte[body.Length / 2];
                // The client may have bytes before the partial does (the file is written behind it): the kill comes
                // once the partial holds the half the origin sent.
                await stream.ReadExactlyAsync(half).AsTask().WaitAsync(TimeSpan.FromSeconds(30));
                await ReplicatorProcess.WaitForLengthAsync(Path.Combine(_root, ".replicator", "partial", $"127.0.0.1:{origin.Port}", "iso"), half.Length);
                first.Signal(SIGKILL);
                await first.WaitForExitAsync();
            }

            Assert.False(File.Exists(Path.Combine(_root, $"127.0.0.1:{origin.Port}", "iso")), "a torn body must never stand in the tree");

            using var second = await ReplicatorProcess.StartAsync("--port", "0", "--root", _root, "--direct-io", directIo);
            using var again = Client(second);
            var whole = await again.GetByteArrayAsync(origin.Url("/iso"));
            await second.WaitForLineAsync(line => line.Contains("Stored ", StringComparison.Ordinal)); // the commit follows the last byte

            Assert.Equal(body, whole);
            var resume = origin.Requests.Last(r => r.PathAndQuery == "/iso");
            Assert.Equal($"bytes={body.Length / 2}-", resume.Headers["Range"]);
            Assert.Equal("\"iso-1\"", resume.Headers["If-Range"]);
            Assert.Equal(body, File.ReadAllBytes(Path.Combine(_root, $"127.0.0.1:{origin.Port}", "iso")));
        }
        finally
        {
            never.TrySetResult();
        }
    }

    [Fact]
    public async Task StoppedBetweenTheLastByteAndTheCommit_NothingTorn_AndARestartServesTheExactBody()
    {
        // Issue 13: the client gets its last byte before the commit (fsync, metadata, rename). The cache's file
        // system holds the commit at its rename into the tree, where a crash would leave it: the client has every
        // byte, the tree has nothing under the name, and another process on the same tree serves the exact body.
        var fileSystem = new GatedFileSystem(destination => destination.EndsWith("/window", StringComparison.Ordinal));
        await using var proxy = await ProxyFixture.StartAsync(s => s with { Root = _root }, fileSystem: fileSystem);
        var body = TestBodies.Random(seed: 13, size: 1024 * 1024);
        proxy.Origin.Files["/window"] = new OriginFile(body, ETag: "\"w\"");
        var tree = Path.Combine(_root, $"127.0.0.1:{proxy.Origin.Port}", "window");
        try
        {
            var reply = await RawClient.ExchangeAsync(proxy.Endpoint, $"GET {proxy.Origin.Url("/window")} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            await fileSystem.Reached.WaitAsync(TimeSpan.FromSeconds(30));

            var bytes = System.Text.Encoding.Latin1.GetBytes(reply);
            Assert.Equal(body, bytes[(reply.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4)..]);
            Assert.False(File.Exists(tree), "the body is not committed: it must not stand in the tree");

            // Another process on the tree serves the exact body; the partial is still the held commit's (its lock),
            // so it is passed through, not written twice.
            using var restarted = await ReplicatorProcess.StartAsync("--port", "0", "--root", _root);
            using var client = Client(restarted);
            Assert.Equal(body, await client.GetByteArrayAsync(proxy.Origin.Url("/window")));
            Assert.False(File.Exists(tree));

            // The held commit fails, as a crash there would end it (its lock goes): the other process stores it.
            fileSystem.Fail();
            await proxy.SettledAsync();
            using var later = Client(restarted);
            Assert.Equal(body, await later.GetByteArrayAsync(proxy.Origin.Url("/window")));
            await restarted.WaitForLineAsync(line => line.Contains("Stored ", StringComparison.Ordinal));
            Assert.Equal(body, File.ReadAllBytes(tree));
        }
        finally
        {
            fileSystem.Fail();
        }
    }

    [Fact]
    public async Task Sigterm_DuringADownload_LetsItFinishThenExitsZero()
    {
        const int SIGTERM = 15;
        await using var origin = await TestOrigin.StartAsync();
        var gate = new TaskCompletionSource();
        var body = TestBodies.Random(seed: 8, size: 2 * 1024 * 1024);
        var file = origin.Files["/running"] = new OriginFile(body, ETag: "\"r\"", PauseAt: body.Length / 2, Resume: gate.Task);
        try
        {
            using var replicator = await ReplicatorProcess.StartAsync("--port", "0", "--root", _root);
            using var client = Client(replicator);
            using var response = await client.GetAsync(origin.Url("/running"), HttpCompletionOption.ResponseHeadersRead);
            var stream = await response.Content.ReadAsStreamAsync();
            var first = new byte[body.Length / 2];
            await stream.ReadExactlyAsync(first).AsTask().WaitAsync(TimeSpan.FromSeconds(30));

            replicator.Signal(SIGTERM);
            await replicator.WaitForLineAsync(line => line.Contains("SIGTERM received", StringComparison.Ordinal));
            Assert.False(replicator.Process.HasExited, "a running transfer must be given its grace period");
            gate.SetResult();
            var rest = new MemoryStream();
            await stream.CopyToAsync(rest);

            Assert.Equal(body, first.Concat(rest.ToArray()).ToArray());
            Assert.Equal(0, await replicator.WaitForExitAsync());
            Assert.Equal(body, File.ReadAllBytes(Path.Combine(_root, $"127.0.0.1:{origin.Port}", "running")));
        }
        finally
        {
            gate.TrySetResult();
        }
    }

    private static HttpClient Client(ReplicatorProcess replicator) => new(new HttpClientHandler
    {
        Proxy = new System.Net.WebProxy($"http://{replicator.Endpoint}"),
        UseProxy = true,
    })
    { Timeout = TimeSpan.FromSeconds(60) };
}
