using Replicator.Http;
using Replicator.Proxy;

namespace Replicator.Tests.Proxy;

/// <summary>
/// A request of the process itself (the mirror's files, issue 15) runs the proxy's own code on its loops without a
/// socket: it is stored, shared and answered as a client's, and what would have been sent is read as a client reads it.
/// </summary>
public sealed class InProcessRequestTests
{
    private static async Task<(Exchange Exchange, InProcessResponse Response)> GetAsync(ProxyFixture proxy, string path, string? cacheControl = null, InProcessResponse? response = null)
    {
        var url = RequestUrl.ParseAbsolute(proxy.Origin.Url(path));
        var headers = new HttpHeaders();
        headers.Add("Host", url.Authority);
        if (cacheControl is not null)
        {
            headers.Add("Cache-Control", cacheControl);
        }

        var request = new RequestHead { Method = "GET", Target = url.ToString(), Version = System.Net.HttpVersion.Version10, Headers = headers };
        response ??= new InProcessResponse();
        var answered = new TaskCompletionSource<Exchange>(TaskCreationOptions.RunContinuationsAsynchronously);
        proxy.Loops[0].Spawn("in-process request", async fiber => answered.SetResult(await proxy.Server.AnswerInProcessAsync(fiber, request, response, "test")));
        return (await answered.Task.WaitAsync(RawClient.ReadBound), response);
    }

    [Fact]
    public async Task AMiss_IsStoredAsAClientsIs_AndTheHitAfterItIsCounted()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        var body = TestBodies.Random(7, 300_000);
        proxy.Origin.Files["/f.bin"] = new OriginFile(body, CacheControl: "max-age=600");

        var (miss, missed) = await GetAsync(proxy, "/f.bin");
        await proxy.SettledAsync();
        var (hit, hitResponse) = await GetAsync(proxy, "/f.bin");

        Assert.Equal((200, Outcomes.Miss, body.Length), (miss.Status, miss.Outcome, missed.BodyBytes));
        Assert.Equal(body, File.ReadAllBytes(proxy.CachedPath("/f.bin")));
        Assert.Equal(body.Length.ToString(System.Globalization.CultureInfo.InvariantCulture), missed.Head!.Headers["Content-Length"]);
        Assert.Equal((200, Outcomes.Hit, body.Length), (hit.Status, hit.Outcome, hitResponse.BodyBytes));
        Assert.Equal(1, proxy.Origin.CountRequests("/f.bin"));
        Assert.Equal(["MISS", "HIT"], await proxy.Accesses.OutcomesAsync(proxy.Origin.Url("/f.bin"), 2));
    }

    [Fact]
    public async Task AnAbandonedRequest_LeavesItsDownloadAsAClientHangingUpDoes()
    {
        // The mirror interrupted (Ctrl-C): a download not worth finishing without its client (with --finish-below 0,
        // one less than half done) stops, and its partial stays for the next run.
        await using var proxy = await ProxyFixture.StartAsync(s => s with { FinishBelow = 0 });
        var resume = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var file = proxy.Origin.Files["/big.bin"] = new OriginFile(TestBodies.Random(3, 40 << 20), PauseAt: 1 << 20, Resume: resume.Task);
        using var interrupt = new CancellationTokenSource();
        var asked = GetAsync(proxy, "/big.bin", response: new InProcessResponse { Abandoned = interrupt.Token });
        await file.Reached.Task.WaitAsync(RawClient.ReadBound);

        interrupt.Cancel();
        var running = proxy.Server.Downloads.Find($"127.0.0.1:{proxy.Origin.Port}/big.bin");
        resume.SetResult();
        var (exchange, response) = await asked;
        if (running is not null)
        {
            await running.Completion.WaitAsync(RawClient.ReadBound);
        }

        Assert.Equal(Outcomes.Aborted, exchange.Outcome);
        Assert.True(response.BodyBytes < 20 << 20, $"{response.BodyBytes} bytes taken after the request was abandoned");
        Assert.False(File.Exists(proxy.CachedPath("/big.bin")));
        Assert.True(File.Exists(Path.Combine(proxy.Root, ".replicator", "partial", $"127.0.0.1:{proxy.Origin.Port}", "big.bin")));
    }

    [Fact]
    public async Task AnError_CarriesItsStatusAndReason()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        proxy.Origin.Files["/gone"] = new OriginFile("no such file here\nmore"u8.ToArray(), Status: 404);

        var (exchange, response) = await GetAsync(proxy, "/gone");

        Assert.Equal(404, exchange.Status);
        Assert.Equal("no such file here", response.ErrorLine);
    }

    [Fact]
    public async Task AStaleCopyServedWhileRevalidating_IsRevalidatedBehindIt()
    {
        // The revalidation runs for nobody once the answer went out: an in-process request has no client to lend it.
        await using var proxy = await ProxyFixture.StartAsync();
        proxy.Origin.Files["/s"] = new OriginFile("stored"u8.ToArray(), CacheControl: "max-age=0, stale-while-revalidate=600", ETag: "\"s\"");
        await GetAsync(proxy, "/s");
        await proxy.SettledAsync();

        var (exchange, _) = await GetAsync(proxy, "/s", "max-age=0");

        Assert.Equal(Outcomes.Stale, exchange.Outcome);
        await proxy.Origin.WaitForRequestsAsync("/s", 2);
        Assert.Equal("\"s\"", proxy.Origin.Requests.Last(r => r.PathAndQuery == "/s").Headers["If-None-Match"]);
    }
}
