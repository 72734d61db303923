namespace Replicator.Tests.Mirror;

/// <summary>
/// A mirror run is resumable and may share its root with a running proxy (issue 15, point 3), through the real
/// programs: a run cut by the origin continues from its partial; while the mirror downloads a file the proxy passes
/// that file through rather than write it too, and serves it from the tree once the mirror has stored it.
/// </summary>
public sealed class MirrorAndProxyTests : IDisposable
{
    private const int Size = 4 * 1024 * 1024;
    private readonly string _root = Directory.CreateTempSubdirectory("replicator-mirrorproxy-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private Task<(int ExitCode, string Stdout, string Stderr)> MirrorAsync(string url) =>
        ReplicatorProcess.RunToEndAsync("mirror", url, "--root", _root, "--allow-to", "127.0.0.0/8");

    [Fact]
    public async Task ACutRun_IsStartedAgain_AndContinuesFromItsPartial()
    {
        await using var origin = await TestOrigin.StartAsync();
        var body = TestBodies.Random(21, Size);
        origin.Files["/big.iso"] = new OriginFile(body, ETag: "\"big\"", AbortAt: Size / 2);

        var (exit, stdout, _) = await MirrorAsync(origin.Url("/big.iso"));
        Assert.Equal(1, exit);
        Assert.Contains("FAILED", stdout, StringComparison.Ordinal);

        origin.Files["/big.iso"] = new OriginFile(body, ETag: "\"big\"");
        (exit, stdout, _) = await MirrorAsync(origin.Url("/big.iso"));

        Assert.Equal(0, exit);
        var resume = origin.Requests.Last(request => request.PathAndQuery == "/big.iso");
        Assert.StartsWith("bytes=", resume.Headers["Range"], StringComparison.Ordinal);
        Assert.NotEqual("bytes=0-", resume.Headers["Range"]);
        Assert.Equal(body, TreeFile.Read(Path.Combine(_root, $"127.0.0.1:{origin.Port}", "big.iso")));
    }

    [Fact]
    public async Task KilledMidTransfer_TheNextRunCompletes_WithNoTornFile()
    {
        const int SIGKILL = 9;
        await using var origin = await TestOrigin.StartAsync();
        var body = TestBodies.Random(23, Size);
        var never = new TaskCompletionSource();
        var file = origin.Files["/big.iso"] = new OriginFile(body, ETag: "\"k\"", PauseAt: Size / 2, Resume: never.Task);
        var tree = Path.Combine(_root, $"127.0.0.1:{origin.Port}", "big.iso");
        try
        {
            using (var first = ReplicatorProcess.Begin("mirror", origin.Url("/big.iso"), "--root", _root, "--allow-to", "127.0.0.0/8"))
            {
                await file.Reached.Task.WaitAsync(TimeSpan.FromSeconds(20));
                await ReplicatorProcess.WaitForLengthAsync(Path.Combine(_root, ".replicator", "partial", $"127.0.0.1:{origin.Port}", "big.iso"), Size / 2);
                first.Signal(SIGKILL);
                await first.WaitForExitAsync();
            }

            Assert.False(File.Exists(tree), "a torn file must never stand in the tree");
            origin.Files["/big.iso"] = new OriginFile(body, ETag: "\"k\"");
            var (exit, stdout, stderr) = await MirrorAsync(origin.Url("/big.iso"));

            Assert.True(exit == 0, stdout + stderr);
            Assert.Equal($"bytes={Size / 2}-", origin.Requests.Last(request => request.PathAndQuery == "/big.iso").Headers["Range"]);
            Assert.Equal(body, TreeFile.Read(tree));
        }
        finally
        {
            never.TrySetResult();
        }
    }

    [Fact]
    public async Task WhileTheMirrorDownloadsAFile_TheProxyPassesItThrough_ThenServesWhatTheMirrorStored()
    {
        await using var origin = await TestOrigin.StartAsync();
        var body = TestBodies.Random(22, Size);
        var gate = new TaskCompletionSource();
        var file = origin.Files["/shared.iso"] = new OriginFile(body, CacheControl: "max-age=3600", ETag: "\"s\"", PauseAt: Size / 2, Resume: gate.Task);
        using var proxy = await ReplicatorProcess.StartAsync("--port", "0", "--root", _root);
        using var client = new HttpClient(new HttpClientHandler { Proxy = new System.Net.WebProxy($"http://{proxy.Endpoint}"), UseProxy = true });

        var mirror = MirrorAsync(origin.Url("/shared.iso"));
        await file.Reached.Task.WaitAsync(TimeSpan.FromSeconds(20)); // the mirror holds the partial, half written
        var throughProxy = client.GetByteArrayAsync(origin.Url("/shared.iso"));
        await origin.WaitForRequestsAsync("/shared.iso", 2); // the proxy asked for the whole body itself: no Range
        gate.SetResult();

        Assert.Equal(body, await throughProxy);
        Assert.Null(origin.Requests.Last(request => request.PathAndQuery == "/shared.iso").Headers.GetValueOrDefault("Range"));
        var (exit, stdout, stderr) = await mirror;
        Assert.True(exit == 0, stdout + stderr);
        var tree = Path.Combine(_root, $"127.0.0.1:{origin.Port}", "shared.iso");
        Assert.Equal(body, TreeFile.Read(tree));

        var asked = origin.CountRequests("/shared.iso");
        Assert.Equal(body, await client.GetByteArrayAsync(origin.Url("/shared.iso")));
        Assert.Equal(asked, origin.CountRequests("/shared.iso"));
        Assert.Equal(body, TreeFile.Read(tree));
    }
}
