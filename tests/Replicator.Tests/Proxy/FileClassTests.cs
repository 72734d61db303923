using System.Net;

namespace Replicator.Tests.Proxy;

/// <summary>
/// Issue 12, point 1, and issue 11, point 6: package files are served from the tree without asking, whatever the
/// client's Cache-Control; indexes are always asked again; other responses without a lifetime are fresh for a tenth of
/// the time since their Last-Modified.
/// </summary>
public sealed class FileClassTests
{
    private const string Deb = "/debian/pool/main/h/hello/hello_2.10-3_amd64.deb";
    private const string InRelease = "/debian/dists/bookworm/InRelease";

    [Fact]
    public async Task PackageFile_WithoutValidators_IsServedFromTheTree_EvenWhenTheClientSaysMaxAge0()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        proxy.Origin.Files[Deb] = new OriginFile("a package"u8.ToArray());
        var url = proxy.Origin.Url(Deb);

        await proxy.Client.GetByteArrayAsync(url);
        var again = await proxy.RawAsync($"GET {url} HTTP/1.1\r\nHost: x\r\nCache-Control: max-age=0\r\nPragma: no-cache\r\nConnection: close\r\n\r\n");

        Assert.StartsWith("HTTP/1.1 200 ", again, StringComparison.Ordinal);
        Assert.EndsWith("a package", again, StringComparison.Ordinal);
        Assert.Equal(1, proxy.Origin.CountRequests(Deb));
        Assert.Equal(["MISS immutable", "HIT immutable"], await proxy.Accesses.OutcomesWithClassAsync(url, 2));
        var page = await proxy.RawAsync("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        Assert.Contains("<tr><th>class</th><th>HIT</th><th>MISS</th></tr>\n<tr><td>immutable</td><td>1</td><td>1</td></tr>", page, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Index404_WithoutALifetime_IsAskedAgainOnline_AndAnsweredOffline()
    {
        // A repository without InRelease: apt falls back to Release on a 404, never on a 504.
        await using var online = await ProxyFixture.StartAsync();
        online.Origin.Files["/debian/dists/stable/InRelease"] = new OriginFile("no"u8.ToArray(), Status: 404);
        for (var i = 0; i < 2; i++)
        {
            using var reply = await online.Client.GetAsync(online.Origin.Url("/debian/dists/stable/InRelease"));
            Assert.Equal(HttpStatusCode.NotFound, reply.StatusCode);
        }

        Assert.Equal(2, online.Origin.CountRequests("/debian/dists/stable/InRelease"));
        var root = online.Root;
        await using var offline = await ProxyFixture.StartAsync(s => s with { Offline = true, Static = true, Root = root });
        using var remembered = await offline.Client.GetAsync(online.Origin.Url("/debian/dists/stable/InRelease"));
        Assert.Equal(HttpStatusCode.NotFound, remembered.StatusCode);
        Assert.Equal(2, online.Origin.CountRequests("/debian/dists/stable/InRelease"));
    }

    [Fact]
    public async Task PackageFile404_IsNeverStored_EvenWithALifetime()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        proxy.Origin.Files[Deb] = new OriginFile("not yet"u8.ToArray(), Status: 404, CacheControl: "max-age=600");
        proxy.Origin.Files["/missing.html"] = new OriginFile("gone"u8.ToArray(), Status: 404, CacheControl: "max-age=600");

        for (var i = 0; i < 2; i++)
        {
            using var reply = await proxy.Client.GetAsync(proxy.Origin.Url(Deb));
            Assert.Equal(HttpStatusCode.NotFound, reply.StatusCode);
            using var other = await proxy.Client.GetAsync(proxy.Origin.Url("/missing.html"));
            Assert.Equal(HttpStatusCode.NotFound, other.StatusCode);
        }

        Assert.Equal(2, proxy.Origin.CountRequests(Deb));
        Assert.Equal(1, proxy.Origin.CountRequests("/missing.html")); // the control: an ordinary 404 with a lifetime is
    }

    [Fact]
    public async Task Index_WithALifetimeButNoValidators_IsFetchedAgainEveryTime()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        proxy.Origin.Files[InRelease] = new OriginFile("Suite: bookworm\n"u8.ToArray(), CacheControl: "max-age=600");
        var url = proxy.Origin.Url(InRelease);
        await proxy.Client.GetStringAsync(url);
        proxy.Origin.Files[InRelease] = new OriginFile("Suite: bookworm\nDate: later\n"u8.ToArray(), CacheControl: "max-age=600");

        Assert.Equal("Suite: bookworm\nDate: later\n", await proxy.Client.GetStringAsync(url));
        Assert.Equal(2, proxy.Origin.CountRequests(InRelease));
        Assert.False(proxy.Origin.Requests.Last().Headers.ContainsKey("If-Modified-Since")); // a fetch, not a revalidation
        Assert.Equal(["MISS volatile", "MISS volatile"], await proxy.Accesses.OutcomesWithClassAsync(url, 2));
        Assert.Equal("Suite: bookworm\nDate: later\n", File.ReadAllText(proxy.CachedPath(InRelease)));
    }

    [Fact]
    public async Task Index_WithAValidator_IsRevalidated_NeverHeuristicallyFresh()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        proxy.Origin.Files[InRelease] = new OriginFile("Suite: bookworm\n"u8.ToArray(), ETag: "\"r1\"", LastModified: DateTimeOffset.UtcNow.AddDays(-30));
        var url = proxy.Origin.Url(InRelease);

        await proxy.Client.GetStringAsync(url);
        await proxy.Client.GetStringAsync(url);

        Assert.Equal(2, proxy.Origin.CountRequests(InRelease));
        Assert.Equal("\"r1\"", proxy.Origin.Requests.Last().Headers["If-None-Match"]);
        Assert.Equal(["MISS volatile", "REVALIDATED volatile"], await proxy.Accesses.OutcomesWithClassAsync(url, 2));
    }

    [Fact]
    public async Task Index_ClientsAskingAtOnce_CostOneOriginRequest()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        var url = proxy.Origin.Url(InRelease);
        proxy.Origin.Files[InRelease] = new OriginFile(new byte[64 * 1024]);
        await proxy.Client.GetByteArrayAsync(url);
        var gate = new TaskCompletionSource();
        var file = proxy.Origin.Files[InRelease] = new OriginFile(new byte[64 * 1024], PauseAt: 1000, Resume: gate.Task);

        var first = proxy.Client.GetByteArrayAsync(url);
        await file.Reached.Task;
        var download = proxy.Server.Downloads.Find($"127.0.0.1:{proxy.Origin.Port}{InRelease}")!;
        var joined = 0;
        var allIn = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        download.Joined += () =>
        {
            if (Interlocked.Increment(ref joined) == 3)
            {
                allIn.SetResult();
            }
        };
        var others = Enumerable.Range(0, 3).Select(_ => proxy.NewClient().GetByteArrayAsync(url)).ToArray();
        await allIn.Task.WaitAsync(TimeSpan.FromSeconds(20)); // the three others follow the paused download
        gate.SetResult();

        foreach (var body in await Task.WhenAll([first, .. others]))
        {
            Assert.Equal(64 * 1024, body.Length);
        }

        Assert.Equal(2, proxy.Origin.CountRequests(InRelease));
    }

    [Theory]
    [InlineData(10, "HIT")]
    [InlineData(0, "REVALIDATED")]
    public async Task ResponseWithOnlyLastModified_IsFreshByHeuristic_UnlessTurnedOff(int percent, string second)
    {
        await using var proxy = await ProxyFixture.StartAsync(s => s with { HeuristicPercent = percent });
        proxy.Origin.Files["/logo.png"] = new OriginFile("png"u8.ToArray(), LastModified: new DateTimeOffset(DateTime.UtcNow.Date.AddDays(-3), TimeSpan.Zero));
        var url = proxy.Origin.Url("/logo.png");

        await proxy.Client.GetByteArrayAsync(url);
        await proxy.Client.GetByteArrayAsync(url);

        Assert.Equal(["MISS", second], await proxy.Accesses.OutcomesAsync(url, 2));
        Assert.Equal(second == "HIT" ? 1 : 2, proxy.Origin.CountRequests("/logo.png"));
    }
}
