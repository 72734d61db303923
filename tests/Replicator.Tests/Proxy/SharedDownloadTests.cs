using System.Net;

namespace Replicator.Tests.Proxy;

/// <summary>Shared and resumable downloads: one upstream transfer for every client, never a corrupt file.</summary>
public sealed class SharedDownloadTests
{
    private const int Size = 1024 * 1024;
    private const int Half = Size / 2;

    [Fact]
    public async Task ConcurrentClients_OfOneSlowUrl_MakeOneOriginRequest_AndGetIdenticalBodies()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        var gate = new TaskCompletionSource();
        var file = proxy.Origin.Files["/big"] = new OriginFile(Body(), ETag: "\"b\"", PauseAt: Half, Resume: gate.Task);
        var clients = Enumerable.Range(0, 8).Select(_ => proxy.NewClient()).ToList();

        // Every client has its answer's head while the origin is still paused half-way: all joined one download.
        var responses = await Task.WhenAll(clients.Select(client => client.GetAsync(proxy.Origin.Url("/big"), HttpCompletionOption.ResponseHeadersRead)));
        gate.SetResult();
        var bodies = await Task.WhenAll(responses.Select(response => response.Content.ReadAsByteArrayAsync()));

        Assert.All(bodies, body => Assert.Equal(file.Body, body));
        Assert.Equal(1, proxy.Origin.CountRequests("/big"));
        // One client downloads, the seven others join it: every one of them is a MISS (nothing was stored yet).
        Assert.All(await proxy.Accesses.OutcomesAsync(proxy.Origin.Url("/big"), 8), outcome => Assert.Equal("MISS", outcome));
        Assert.Equal(file.Body, File.ReadAllBytes(proxy.CachedPath("/big")));
        clients.ForEach(client => client.Dispose());
    }

    [Fact]
    public async Task Joiner_OnAnotherLoop_FollowsTheSameDownload()
    {
        // Hand-off gives accepted connections to the loops in turn: the two clients below land on different loops.
        await using var proxy = await ProxyFixture.StartAsync(distribution: Replicator.Fibers.ListenerDistribution.HandOff);
        var gate = new TaskCompletionSource();
        var file = proxy.Origin.Files["/big"] = new OriginFile(Body(), PauseAt: Half, Resume: gate.Task);
        using var second = proxy.NewClient();

        var first = await proxy.Client.GetAsync(proxy.Origin.Url("/big"), HttpCompletionOption.ResponseHeadersRead);
        await file.Reached.Task.WaitAsync(TimeSpan.FromSeconds(20));
        var joiner = await second.GetAsync(proxy.Origin.Url("/big"), HttpCompletionOption.ResponseHeadersRead).WaitAsync(TimeSpan.FromSeconds(20));
        gate.SetResult();

        Assert.Equal(file.Body, await joiner.Content.ReadAsByteArrayAsync());
        Assert.Equal(file.Body, await first.Content.ReadAsByteArrayAsync());
        Assert.Equal(1, proxy.Origin.CountRequests("/big"));
        Assert.Equal(["MISS", "MISS"], await proxy.Accesses.OutcomesAsync(proxy.Origin.Url("/big"), 2));
    }

    [Fact]
    public async Task Joiner_ArrivingHalfWay_GetsTheStoredHalfAtOnce_ThenTheRest()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        var gate = new TaskCompletionSource();
        var file = proxy.Origin.Files["/big"] = new OriginFile(Body(), PauseAt: Half, Resume: gate.Task);
        var first = await proxy.Client.GetAsync(proxy.Origin.Url("/big"), HttpCompletionOption.ResponseHeadersRead);
        await file.Reached.Task.WaitAsync(TimeSpan.FromSeconds(20));

        using var joinerClient = proxy.NewClient();
        var joiner = await joinerClient.GetAsync(proxy.Origin.Url("/big"), HttpCompletionOption.ResponseHeadersRead);
        var stream = await joiner.Content.ReadAsStreamAsync();
        var firstHalf = new byte[Half];
        await stream.ReadExactlyAsync(firstHalf).AsTask().WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(file.Body[..Half], firstHalf);

        gate.SetResult();
        var rest = new MemoryStream();
        await stream.CopyToAsync(rest);
        Assert.Equal(file.Body[Half..], rest.ToArray());
        Assert.Equal(file.Body, await first.Content.ReadAsByteArrayAsync());
        Assert.Equal(1, proxy.Origin.CountRequests("/big"));
    }

    [Fact]
    public async Task StalledClient_DoesNotHoldUpTheDownloadOrTheOthers()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        var body = Body(seed: 7, size: 16 * Size);
        proxy.Origin.Files["/big"] = new OriginFile(body, CacheControl: "max-age=600");
        using var stalled = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp) { ReceiveBufferSize = 4096 };
        await stalled.ConnectAsync(proxy.Endpoint);
        await stalled.SendAsync(System.Text.Encoding.ASCII.GetBytes($"GET {proxy.Origin.Url("/big")} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));

        // The stalled client started the download and reads nothing; another client still gets everything.
        var other = await proxy.Client.GetByteArrayAsync(proxy.Origin.Url("/big")).WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(body, other);
        Assert.Equal(body, File.ReadAllBytes(proxy.CachedPath("/big")));
        Assert.Equal(1, proxy.Origin.CountRequests("/big"));
        using var reader = new System.Net.Sockets.NetworkStream(stalled);
        var reply = new MemoryStream();
        await reader.CopyToAsync(reply).WaitAsync(TimeSpan.FromSeconds(30));
        var bytes = reply.ToArray();
        var headEnd = System.Text.Encoding.Latin1.GetString(bytes).IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4;
        Assert.Equal(body, bytes[headEnd..]);
    }

    [Fact]
    public async Task AnOnlyClient_ThatStopsReading_HoldsItsDownload_AndStillGetsEveryByteFromMemory()
    {
        await using var proxy = await ProxyFixture.StartAsync(s => s with { DirectWriteAbove = Size });
        var body = Body(seed: 11, size: 48 * Size);
        proxy.Origin.Files["/big.iso"] = new OriginFile(body, CacheControl: "max-age=600");
        var key = $"127.0.0.1:{proxy.Origin.Port}/big.iso";

        // The only client reads a little, then nothing: the download waits for it instead of running ahead of it
        // (past the ring, it would have to read back the file, which goes around the page cache).
        using var response = await proxy.Client.GetAsync(proxy.Origin.Url("/big.iso"), HttpCompletionOption.ResponseHeadersRead);
        await using var stream = await response.Content.ReadAsStreamAsync();
        var received = new byte[body.Length];
        await stream.ReadExactlyAsync(received.AsMemory(0, Size));
        var download = proxy.Server.Downloads.Find(key)!;
        var held = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        download.HeldByClient += () => held.TrySetResult();
        if (download.IsHeldByClient)
        {
            held.TrySetResult();
        }

        await held.Task.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.InRange(download.Available, Size, body.Length - (16 * Size));

        await stream.ReadExactlyAsync(received.AsMemory(Size));
        Assert.Equal(body, received);
        await proxy.SettledAsync();
        Assert.Equal(body, File.ReadAllBytes(proxy.CachedPath("/big.iso")));
        Assert.Equal(1, proxy.Origin.CountRequests("/big.iso"));
    }

    [Fact]
    public async Task ClientLeavingMidWay_DoesNotStopTheOthers()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        var gate = new TaskCompletionSource();
        var file = proxy.Origin.Files["/big"] = new OriginFile(Body(), CacheControl: "max-age=600", PauseAt: Half, Resume: gate.Task);
        using var leaving = proxy.NewClient();
        var gone = await leaving.GetAsync(proxy.Origin.Url("/big"), HttpCompletionOption.ResponseHeadersRead);
        var staying = await proxy.Client.GetAsync(proxy.Origin.Url("/big"), HttpCompletionOption.ResponseHeadersRead);
        await file.Reached.Task.WaitAsync(TimeSpan.FromSeconds(20));

        gone.Dispose();
        leaving.Dispose();
        gate.SetResult();

        Assert.Equal(file.Body, await staying.Content.ReadAsByteArrayAsync());
        Assert.Equal(file.Body, await proxy.Client.GetByteArrayAsync(proxy.Origin.Url("/big")));
        Assert.Equal(1, proxy.Origin.CountRequests("/big"));
        Assert.Equal("HIT", (await proxy.Accesses.OutcomesAsync(proxy.Origin.Url("/big"), 3))[2]);
    }

    [Fact]
    public async Task StalledDisk_DoesNotHoldUpTheMiss_AndTheTreeGetsTheBodyOnceTheDiskMoves()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        using var disk = new ManualResetEventSlim();
        var stalled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        proxy.Server.Store.BeforeBodyWrite = _ =>
        {
            stalled.TrySetResult();
            disk.Wait(TimeSpan.FromSeconds(30));
        };
        var file = proxy.Origin.Files["/big"] = new OriginFile(Body(seed: 3, size: 3 * Size));

        // Every write into the partial is held, as by a disk that stopped: the client still gets every byte.
        var response = await proxy.Client.GetAsync(proxy.Origin.Url("/big"), HttpCompletionOption.ResponseHeadersRead);
        var body = new byte[file.Body.Length];
        await (await response.Content.ReadAsStreamAsync()).ReadExactlyAsync(body).AsTask().WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(file.Body, body);
        await stalled.Task.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.False(File.Exists(proxy.CachedPath("/big")));

        disk.Set();
        await proxy.SettledAsync();
        Assert.Equal(file.Body, File.ReadAllBytes(proxy.CachedPath("/big")));
        Assert.Equal(1, proxy.Origin.CountRequests("/big"));
    }

    [Fact]
    public async Task OriginBreakingOffHalfWay_LeavesAPartial_ThatTheNextRequestResumes()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        var modified = new DateTimeOffset(2024, 1, 1, 0, 0, 0, TimeSpan.Zero);
        var file = proxy.Origin.Files["/big"] = new OriginFile(Body(), ETag: "\"v7\"", LastModified: modified, AbortAt: Half);

        await Assert.ThrowsAnyAsync<HttpRequestException>(() => proxy.Client.GetByteArrayAsync(proxy.Origin.Url("/big")));
        Assert.False(File.Exists(proxy.CachedPath("/big")));

        using var second = proxy.NewClient();
        var body = await second.GetByteArrayAsync(proxy.Origin.Url("/big"));

        Assert.Equal(file.Body, body);
        var resume = proxy.Origin.Requests.Last(r => r.PathAndQuery == "/big");
        Assert.InRange(ResumeOffset(resume), 1, Half);
        Assert.Equal("\"v7\"", resume.Headers["If-Range"]);
        Assert.Equal(file.Body, File.ReadAllBytes(proxy.CachedPath("/big")));
        // The first client saw the body break off, the origin's doing; the second got it whole.
        Assert.Equal(["ERROR:upstream", "MISS"], await proxy.Accesses.OutcomesAsync(proxy.Origin.Url("/big"), 2));
    }

    [Fact]
    public async Task ResumeAnsweredWithTheWhole200_StartsOverCleanly()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        proxy.Origin.Files["/big"] = new OriginFile(Body(), ETag: "\"old\"", AbortAt: Half);
        await Assert.ThrowsAnyAsync<HttpRequestException>(() => proxy.Client.GetByteArrayAsync(proxy.Origin.Url("/big")));
        var changed = Body(seed: 99);
        proxy.Origin.Files["/big"] = new OriginFile(changed, ETag: "\"new\"", IgnoreRange: true);

        using var second = proxy.NewClient();
        var body = await second.GetByteArrayAsync(proxy.Origin.Url("/big"));

        Assert.Equal(changed, body);
        Assert.Equal(changed, File.ReadAllBytes(proxy.CachedPath("/big")));
        Assert.InRange(ResumeOffset(proxy.Origin.Requests.Last(r => r.PathAndQuery == "/big")), 1, Half);
    }

    [Fact]
    public async Task ResumeRefusedWith416_DiscardsThePartialAndStartsOver()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        proxy.Origin.Files["/big"] = new OriginFile(Body(), ETag: "\"e\"", AbortAt: Half);
        await Assert.ThrowsAnyAsync<HttpRequestException>(() => proxy.Client.GetByteArrayAsync(proxy.Origin.Url("/big")));
        var shorter = Body(seed: 5)[..1000];
        proxy.Origin.Files["/big"] = new OriginFile(shorter, ETag: "\"e\"");

        using var second = proxy.NewClient();
        var body = await second.GetByteArrayAsync(proxy.Origin.Url("/big"));

        Assert.Equal(shorter, body);
        var lastTwo = proxy.Origin.Requests.Where(r => r.PathAndQuery == "/big").TakeLast(2).ToList();
        Assert.InRange(ResumeOffset(lastTwo[0]), 1, Half);
        Assert.False(lastTwo[1].Headers.ContainsKey("Range"));
    }

    [Fact]
    public async Task RangeAndHead_OnADownloadingFile_AreAnsweredBeforeItEnds()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        var gate = new TaskCompletionSource();
        var file = proxy.Origin.Files["/big"] = new OriginFile(Body(), PauseAt: Half, Resume: gate.Task);
        var first = await proxy.Client.GetAsync(proxy.Origin.Url("/big"), HttpCompletionOption.ResponseHeadersRead);
        await file.Reached.Task.WaitAsync(TimeSpan.FromSeconds(20));
        using var other = proxy.NewClient();
        var range = new HttpRequestMessage(HttpMethod.Get, proxy.Origin.Url("/big"));
        range.Headers.Range = new System.Net.Http.Headers.RangeHeaderValue(100, 199);

        var partial = await other.SendAsync(range).WaitAsync(TimeSpan.FromSeconds(20));
        var head = await other.SendAsync(new HttpRequestMessage(HttpMethod.Head, proxy.Origin.Url("/big"))).WaitAsync(TimeSpan.FromSeconds(20));

        Assert.Equal(HttpStatusCode.PartialContent, partial.StatusCode);
        Assert.Equal(file.Body[100..200], await partial.Content.ReadAsByteArrayAsync());
        Assert.Equal(HttpStatusCode.OK, head.StatusCode);
        Assert.Equal(Size, head.Content.Headers.ContentLength);
        gate.SetResult();
        Assert.Equal(file.Body, await first.Content.ReadAsByteArrayAsync());
        Assert.Equal(1, proxy.Origin.CountRequests("/big"));
    }

    [Fact]
    public async Task EveryClientLeavingALargeDownloadEarly_StopsItAndKeepsThePartial()
    {
        await using var proxy = await ProxyFixture.StartAsync(s => s with { FinishBelow = 0 });
        var gate = new TaskCompletionSource();
        // Large, and paused early: the proxy has plenty of time to notice the client left before half is in, and
        // the body is far larger than the socket buffers, so the origin sees the proxy go.
        var file = proxy.Origin.Files["/big"] = new OriginFile(Body(size: 64 * Size), ETag: "\"p\"", PauseAt: Size / 4, Resume: gate.Task);
        using (var leaving = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp))
        {
            await leaving.ConnectAsync(proxy.Endpoint);
            await leaving.SendAsync(System.Text.Encoding.ASCII.GetBytes($"GET {proxy.Origin.Url("/big")} HTTP/1.1\r\nHost: x\r\n\r\n"));
            await leaving.ReceiveAsync(new byte[1]).WaitAsync(TimeSpan.FromSeconds(20));
            await file.Reached.Task.WaitAsync(TimeSpan.FromSeconds(20));
            // Gone for good, at once: a reset, not a client library that may drain the body first.
            leaving.LingerState = new System.Net.Sockets.LingerOption(true, 0);
        }

        // The download stops once it sees its last client gone (at its next piece, perhaps only after the pause).
        var running = proxy.Server.Downloads.Find($"127.0.0.1:{proxy.Origin.Port}/big");
        gate.SetResult();
        if (running is not null)
        {
            await running.Completion.WaitAsync(TimeSpan.FromSeconds(20));
        }

        Assert.Equal(file.Body, await proxy.Client.GetByteArrayAsync(proxy.Origin.Url("/big")));
        Assert.StartsWith("bytes=", proxy.Origin.Requests.Last(r => r.PathAndQuery == "/big").Headers["Range"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task EveryClientLeavingASmallDownload_LetsItFinish()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        var gate = new TaskCompletionSource();
        var file = proxy.Origin.Files["/small"] = new OriginFile(Body(), CacheControl: "max-age=600", PauseAt: Size / 4, Resume: gate.Task);
        using (var leaving = proxy.NewClient())
        {
            using var response = await leaving.GetAsync(proxy.Origin.Url("/small"), HttpCompletionOption.ResponseHeadersRead);
            await file.Reached.Task.WaitAsync(TimeSpan.FromSeconds(20));
        }

        gate.SetResult();

        Assert.Equal(file.Body, await proxy.Client.GetByteArrayAsync(proxy.Origin.Url("/small")));
        Assert.Equal(1, proxy.Origin.CountRequests("/small"));
        Assert.False(file.Abandoned.Task.IsCompleted);
    }

    /// <summary>Where a resume asked to start (the origin's abort may lose some of what it wrote, so not exactly where it broke).</summary>
    private static long ResumeOffset(SeenRequest request)
    {
        var range = request.Headers["Range"];
        Assert.StartsWith("bytes=", range, StringComparison.Ordinal);
        Assert.EndsWith("-", range, StringComparison.Ordinal);
        return long.Parse(range[6..^1], System.Globalization.CultureInfo.InvariantCulture);
    }

    private static byte[] Body(int seed = 1, int size = Size) => TestBodies.Random(seed, size);
}
