using System.Net;
using System.Text;
using Microsoft.Extensions.Time.Testing;

namespace Replicator.Tests.Proxy;

/// <summary>The proxy's caching behaviour, black-box: a real origin, the real proxy, real HTTP clients.</summary>
public sealed class ProxyCacheTests
{
    private static readonly DateTimeOffset s_modified = new(2024, 1, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task Get_FreshResponse_IsFetchedOnceThenServedFromTheTree()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        var body = Encoding.UTF8.GetBytes("hello, mirror\n");
        proxy.Origin.Files["/pool/a.txt"] = new OriginFile(body, "text/plain", "max-age=3600", "\"v1\"", s_modified);

        var first = await proxy.Client.GetAsync(proxy.Origin.Url("/pool/a.txt"));
        var second = await proxy.Client.GetAsync(proxy.Origin.Url("/pool/a.txt"));

        Assert.Equal(body, await first.Content.ReadAsByteArrayAsync());
        Assert.Equal(body, await second.Content.ReadAsByteArrayAsync());
        Assert.Equal(1, proxy.Origin.CountRequests("/pool/a.txt"));
        Assert.Equal("text/plain", second.Content.Headers.ContentType?.MediaType);
        Assert.Equal("\"v1\"", second.Headers.ETag?.Tag);
        Assert.Contains(second.Headers.Via, via => via.ReceivedBy == "replicator");
        // The tree holds exactly the bytes, at host:port/path, dated by Last-Modified; nothing else beside it.
        Assert.Equal(body, File.ReadAllBytes(proxy.CachedPath("/pool/a.txt")));
        Assert.Equal(s_modified.UtcDateTime, File.GetLastWriteTimeUtc(proxy.CachedPath("/pool/a.txt")));
        Assert.Equal(["a.txt"], Directory.GetFileSystemEntries(Path.GetDirectoryName(proxy.CachedPath("/pool/a.txt"))!).Select(Path.GetFileName));
        Assert.Equal(["MISS", "HIT"], await proxy.Accesses.OutcomesAsync(proxy.Origin.Url("/pool/a.txt"), 2));
    }

    [Fact]
    public async Task Get_WithoutFreshness_IsRevalidatedAndA304ServesTheStoredCopy()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        var body = Encoding.UTF8.GetBytes("Release file");
        proxy.Origin.Files["/dists/Release"] = new OriginFile(body, "text/plain", ETag: "\"r1\"", LastModified: s_modified);
        await proxy.Client.GetByteArrayAsync(proxy.Origin.Url("/dists/Release"));

        var again = await proxy.Client.GetByteArrayAsync(proxy.Origin.Url("/dists/Release"));

        Assert.Equal(body, again);
        var revalidation = proxy.Origin.Requests.Last();
        Assert.Equal("\"r1\"", revalidation.Headers["If-None-Match"]);
        Assert.Equal(s_modified.ToString("r"), revalidation.Headers["If-Modified-Since"]);
        Assert.Equal(["MISS", "REVALIDATED"], await proxy.Accesses.OutcomesAsync(proxy.Origin.Url("/dists/Release"), 2));
    }

    [Fact]
    public async Task A404AndA304_LeaveNothingInThePartialFolder()
    {
        // Issue 10: a declined fetch and a revalidation opened a partial before the origin answered, and the empty
        // files stayed in .replicator/partial/ for ever.
        await using var proxy = await ProxyFixture.StartAsync(s => s with { HeuristicPercent = 0 });
        proxy.Origin.Files["/a.txt"] = new OriginFile("a"u8.ToArray(), "text/plain", ETag: "\"a1\"", LastModified: s_modified);
        await proxy.Client.GetByteArrayAsync(proxy.Origin.Url("/a.txt"));

        using var missing = await proxy.Client.GetAsync(proxy.Origin.Url("/missing"));
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Equal("a", await proxy.Client.GetStringAsync(proxy.Origin.Url("/a.txt")));
        Assert.Equal("\"a1\"", proxy.Origin.Requests.Last().Headers["If-None-Match"]);

        var partials = Path.Combine(proxy.Root, ".replicator", "partial");
        Assert.Empty(Directory.Exists(partials) ? Directory.EnumerateFiles(partials, "*", SearchOption.AllDirectories) : []);
    }

    [Fact]
    public async Task Get_RevalidationAnswered200_ReplacesTheStoredCopy()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        proxy.Origin.Files["/f"] = new OriginFile("old"u8.ToArray(), ETag: "\"1\"");
        await proxy.Client.GetByteArrayAsync(proxy.Origin.Url("/f"));
        proxy.Origin.Files["/f"] = new OriginFile("new body"u8.ToArray(), ETag: "\"2\"");

        var reply = await proxy.Client.GetStringAsync(proxy.Origin.Url("/f"));

        Assert.Equal("new body", reply);
        Assert.Equal("new body", File.ReadAllText(proxy.CachedPath("/f")));
        Assert.Equal(["MISS", "MISS"], await proxy.Accesses.OutcomesAsync(proxy.Origin.Url("/f"), 2));
    }

    [Fact]
    public async Task Get_OriginDownDuringRevalidation_ServesTheStaleCopy()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        proxy.Origin.Files["/stale"] = new OriginFile("kept"u8.ToArray());
        await proxy.Client.GetByteArrayAsync(proxy.Origin.Url("/stale"));
        var url = proxy.Origin.Url("/stale");
        await proxy.Origin.DisposeAsync();

        Assert.Equal("kept", await proxy.Client.GetStringAsync(url));
        Assert.Equal(["MISS", "STALE"], await proxy.Accesses.OutcomesAsync(url, 2));
    }

    [Fact]
    public async Task StoredBody_ReplacedByHand_IsServedAsItNowIs()
    {
        await using var proxy = await ProxyFixture.StartAsync(s => s with { Static = true });
        proxy.Origin.Files["/edit.txt"] = new OriginFile("original body"u8.ToArray(), "text/x-original");
        await proxy.Client.GetByteArrayAsync(proxy.Origin.Url("/edit.txt"));

        File.WriteAllText(proxy.CachedPath("/edit.txt"), "edited by hand, longer");
        var reply = await proxy.Client.GetAsync(proxy.Origin.Url("/edit.txt"));

        Assert.Equal("edited by hand, longer", await reply.Content.ReadAsStringAsync());
        Assert.Equal("text/plain", reply.Content.Headers.ContentType?.MediaType);
        Assert.Equal(1, proxy.Origin.CountRequests("/edit.txt"));
    }

    [Fact]
    public async Task Alias_TwoMirrorsShareOneCachePath()
    {
        Replicator.Cache.PathMapping? mapping = null;
        await using var proxy = await ProxyFixture.StartAsync(s => s with { Mapping = mapping! }, configureAfterOrigin: fixture =>
            mapping = new Replicator.Cache.PathMapping([Replicator.Cache.PathMapping.ParseAlias($"shared:127.0.0.1:{fixture.Port}/mirror-a:127.0.0.1:{fixture.Port}/mirror-b")], flat: false));
        var body = "the same package"u8.ToArray();
        proxy.Origin.Files["/mirror-a/pool/f.deb"] = new OriginFile(body, CacheControl: "max-age=600");
        proxy.Origin.Files["/mirror-b/pool/f.deb"] = new OriginFile(body, CacheControl: "max-age=600");

        Assert.Equal(body, await proxy.Client.GetByteArrayAsync(proxy.Origin.Url("/mirror-a/pool/f.deb")));
        Assert.Equal(body, await proxy.Client.GetByteArrayAsync(proxy.Origin.Url("/mirror-b/pool/f.deb")));

        Assert.Equal(body, File.ReadAllBytes(Path.Combine(proxy.Root, "shared", "pool", "f.deb")));
        Assert.Equal(0, proxy.Origin.CountRequests("/mirror-b/pool/f.deb"));
        Assert.False(Directory.Exists(Path.Combine(proxy.Root, $"127.0.0.1:{proxy.Origin.Port}")));
    }

    [Fact]
    public async Task Flat_NameCollision_NeverOverwritesTheOtherFile()
    {
        await using var proxy = await ProxyFixture.StartAsync(s => s with { Mapping = new Replicator.Cache.PathMapping([], flat: true) });
        proxy.Origin.Files["/a/x.deb"] = new OriginFile("from a"u8.ToArray(), CacheControl: "max-age=600");
        proxy.Origin.Files["/b/x.deb"] = new OriginFile("from b"u8.ToArray(), CacheControl: "max-age=600");

        Assert.Equal("from a", await proxy.Client.GetStringAsync(proxy.Origin.Url("/a/x.deb")));
        Assert.Equal("from b", await proxy.Client.GetStringAsync(proxy.Origin.Url("/b/x.deb")));
        Assert.Equal("from a", await proxy.Client.GetStringAsync(proxy.Origin.Url("/a/x.deb")));

        Assert.Equal("from a", File.ReadAllText(Path.Combine(proxy.Root, "x.deb")));
        Assert.Equal(1, proxy.Origin.CountRequests("/a/x.deb"));
        Assert.Equal(1, proxy.Origin.CountRequests("/b/x.deb"));
    }

    [Fact]
    public async Task Limit_SlowsAnUpstreamTransferToItsRate()
    {
        // The pacer sleeps on the loop's clock: a fake one, moved a tenth of a second at a time until the body is in.
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        // Only the pacer's sleeps may take fake time: no other wait times out while the clock is moved.
        await using var proxy = await ProxyFixture.StartAsync(s => s with { Limit = 200 * 1024, Timeout = TimeSpan.FromHours(1), ResponseHeadTimeout = TimeSpan.FromHours(1) }, clock, loops: 1);
        var body = TestBodies.Random(seed: 4, size: 600 * 1024);
        proxy.Origin.Files["/limited"] = new OriginFile(body, CacheControl: "max-age=600");

        var received = proxy.Client.GetByteArrayAsync(proxy.Origin.Url("/limited"));
        var paced = TimeSpan.Zero;
        while (!received.IsCompleted && paced < TimeSpan.FromMinutes(30))
        {
            await proxy.Loops[0].InvokeAsync(() => 0);
            clock.Advance(TimeSpan.FromMilliseconds(100));
            paced += TimeSpan.FromMilliseconds(100);
        }

        Assert.Equal(body, await received);
        // 600 KiB at 200 KiB/s is 3 s of the clock; the first piece is not paced, so at least ~1.7 s. The clock may
        // run ahead of the transfer (it is moved while bytes travel), so only the lower bound says anything.
        Assert.True(paced >= TimeSpan.FromSeconds(1.5), $"paced for {paced.TotalSeconds} s of the clock only");
    }

    [Fact]
    public async Task StaleBody_ReplacedByHand_IsDecidedAgainFromTheDisk()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        proxy.Origin.Files["/stale-edit"] = new OriginFile("from the origin"u8.ToArray(), ETag: "\"o\"");
        await proxy.Client.GetByteArrayAsync(proxy.Origin.Url("/stale-edit"));

        // The origin answers the revalidation with 304, but the body beside the metadata is no longer the one it describes.
        File.WriteAllText(proxy.CachedPath("/stale-edit"), "edited by hand, and longer");
        var reply = await proxy.Client.GetAsync(proxy.Origin.Url("/stale-edit"));

        Assert.Equal(HttpStatusCode.OK, reply.StatusCode);
        Assert.Equal("from the origin", await reply.Content.ReadAsStringAsync());
        Assert.Equal("from the origin", File.ReadAllText(proxy.CachedPath("/stale-edit")));
    }

    [Fact]
    public async Task Static_CompleteFile_IsServedWithoutAskingTheOrigin()
    {
        await using var proxy = await ProxyFixture.StartAsync(s => s with { Static = true });
        proxy.Origin.Files["/s"] = new OriginFile("static"u8.ToArray());
        await proxy.Client.GetByteArrayAsync(proxy.Origin.Url("/s"));

        Assert.Equal("static", await proxy.Client.GetStringAsync(proxy.Origin.Url("/s")));
        Assert.Equal(1, proxy.Origin.CountRequests("/s"));
        Assert.Equal(["MISS", "HIT"], await proxy.Accesses.OutcomesAsync(proxy.Origin.Url("/s"), 2));
    }

    [Fact]
    public async Task Offline_ServesWhatIsCached_AndRefusesTheRestWith504()
    {
        await using var online = await ProxyFixture.StartAsync();
        online.Origin.Files["/deb"] = new OriginFile("package"u8.ToArray());
        await online.Client.GetByteArrayAsync(online.Origin.Url("/deb"));
        var root = online.Root;
        await using var offline = await ProxyFixture.StartAsync(s => s with { Offline = true, Static = true, Root = root });

        var hit = await offline.Client.GetStringAsync(online.Origin.Url("/deb"));
        var miss = await offline.Client.GetAsync(online.Origin.Url("/other"));

        Assert.Equal("package", hit);
        Assert.Equal(HttpStatusCode.GatewayTimeout, miss.StatusCode);
        Assert.StartsWith("offline:", await miss.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(1, online.Origin.CountRequests("/deb"));
        Assert.Equal(["OFFLINE"], await offline.Accesses.OutcomesAsync(online.Origin.Url("/deb"), 1));
        Assert.Equal(["OFFLINE"], await offline.Accesses.OutcomesAsync(online.Origin.Url("/other"), 1));
    }

    [Fact]
    public async Task Head_FreshEntry_IsAnsweredFromTheCache()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        proxy.Origin.Files["/h"] = new OriginFile(new byte[1234], "image/png", "max-age=600");
        await proxy.Client.GetByteArrayAsync(proxy.Origin.Url("/h"));

        var head = await proxy.Client.SendAsync(new HttpRequestMessage(HttpMethod.Head, proxy.Origin.Url("/h")));

        Assert.Equal(HttpStatusCode.OK, head.StatusCode);
        Assert.Equal(1234, head.Content.Headers.ContentLength);
        Assert.Equal("image/png", head.Content.Headers.ContentType?.MediaType);
        Assert.Equal(1, proxy.Origin.CountRequests("/h"));
        Assert.Equal(["MISS", "HIT"], await proxy.Accesses.OutcomesAsync(proxy.Origin.Url("/h"), 2));
    }

    [Fact]
    public async Task Head_NotCached_PassesTheOriginsContentLengthOn()
    {
        // RFC 9110 section 9.3.2: a HEAD's answer has the fields a GET's would, Content-Length included (a mirror
        // asks a file's size this way before fetching it).
        await using var proxy = await ProxyFixture.StartAsync();
        proxy.Origin.Files["/sized"] = new OriginFile(new byte[200_000], "application/octet-stream");

        var head = await proxy.Client.SendAsync(new HttpRequestMessage(HttpMethod.Head, proxy.Origin.Url("/sized")));

        Assert.Equal(HttpStatusCode.OK, head.StatusCode);
        Assert.Equal(200_000, head.Content.Headers.ContentLength);
        Assert.Equal(["PASS"], await proxy.Accesses.OutcomesAsync(proxy.Origin.Url("/sized"), 1));
    }

    [Fact]
    public async Task Post_IsForwardedWithItsBody_AndNeverCached()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        var payload = Encoding.UTF8.GetBytes(new string('p', 100_000));

        var first = await proxy.Client.PostAsync(proxy.Origin.Url("/echo"), new ByteArrayContent(payload));
        var second = await proxy.Client.PostAsync(proxy.Origin.Url("/echo"), new ByteArrayContent(payload));

        Assert.Equal(payload, await first.Content.ReadAsByteArrayAsync());
        Assert.Equal(payload, await second.Content.ReadAsByteArrayAsync());
        Assert.Equal(2, proxy.Origin.CountRequests("/echo"));
        Assert.False(File.Exists(proxy.CachedPath("/echo")));
        Assert.Equal(["PASS", "PASS"], await proxy.Accesses.OutcomesAsync(proxy.Origin.Url("/echo"), 2));
    }

    [Fact]
    public async Task ChunkedRequestBody_IsForwardedWhole()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        var content = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes("streamed body")));
        var request = new HttpRequestMessage(HttpMethod.Put, proxy.Origin.Url("/echo")) { Content = content };
        request.Headers.TransferEncodingChunked = true;

        var reply = await proxy.Client.SendAsync(request);

        Assert.Equal("streamed body", await reply.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task ChunkedUpstreamBody_IsStoredDechunked()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        var body = Enumerable.Range(0, 5000).Select(i => (byte)i).ToArray();
        proxy.Origin.Files["/c"] = new OriginFile(body, CacheControl: "max-age=60", Chunked: true);

        var first = await proxy.Client.GetByteArrayAsync(proxy.Origin.Url("/c"));
        var second = await proxy.Client.GetAsync(proxy.Origin.Url("/c"));

        Assert.Equal(body, first);
        Assert.Equal(body, await second.Content.ReadAsByteArrayAsync());
        Assert.Equal(5000, second.Content.Headers.ContentLength);
        Assert.Equal(body, File.ReadAllBytes(proxy.CachedPath("/c")));
    }

    [Fact]
    public async Task UncacheableResponses_PassThroughAndLeaveNoFile()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        proxy.Origin.Files["/secret"] = new OriginFile("x"u8.ToArray(), CacheControl: "no-store");

        Assert.Equal("x", await proxy.Client.GetStringAsync(proxy.Origin.Url("/secret")));
        var missing = await proxy.Client.GetAsync(proxy.Origin.Url("/missing"));

        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.False(File.Exists(proxy.CachedPath("/secret")));
        Assert.False(File.Exists(proxy.CachedPath("/missing")));
    }

    [Fact]
    public async Task TrailingSlashAndQuery_AreStoredUnderNamesNoUrlCanTake()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        proxy.Origin.Files["/dir/"] = new OriginFile("index"u8.ToArray(), CacheControl: "max-age=60");
        proxy.Origin.Files["/q?a=1/2"] = new OriginFile("query"u8.ToArray(), CacheControl: "max-age=60");

        Assert.Equal("index", await proxy.Client.GetStringAsync(proxy.Origin.Url("/dir/")));
        Assert.Equal("query", await proxy.Client.GetStringAsync(proxy.Origin.Url("/q?a=1/2")));

        Assert.Equal("index", File.ReadAllText(proxy.CachedPath("/dir/%index")));
        Assert.Equal("query", File.ReadAllText(proxy.CachedPath("/q?a=1%2F2")));
    }

    [Fact]
    public async Task FileDirectoryCollision_LosesNoCachedData()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        proxy.Origin.Files["/a"] = new OriginFile("file a"u8.ToArray(), CacheControl: "max-age=60");
        proxy.Origin.Files["/a/b"] = new OriginFile("file a/b"u8.ToArray(), CacheControl: "max-age=60");

        Assert.Equal("file a", await proxy.Client.GetStringAsync(proxy.Origin.Url("/a")));
        Assert.Equal("file a/b", await proxy.Client.GetStringAsync(proxy.Origin.Url("/a/b")));

        Assert.Equal("file a", File.ReadAllText(proxy.CachedPath("/a")));
        Assert.Equal("file a", await proxy.Client.GetStringAsync(proxy.Origin.Url("/a")));
    }

    [Theory]
    [InlineData("GET", "HTTP/1.1", "")]
    [InlineData("GET", "HTTP/1.1", "Connection: close\r\n")]
    [InlineData("GET", "HTTP/1.0", "")]
    [InlineData("HEAD", "HTTP/1.1", "")]
    public async Task PlainHit_HasTheHeadTheGeneralPathBuilds(string method, string version, string fields)
    {
        // A plain hit's head is assembled from pieces made once; a validator that does not match takes the general
        // path, which must give the same bytes (the fake clock keeps Age equal).
        await using var proxy = await ProxyFixture.StartAsync(clock: new FakeTimeProvider(DateTimeOffset.UtcNow));
        proxy.Origin.Files["/p.txt"] = new OriginFile("plain body"u8.ToArray(), "text/plain", "max-age=600", "\"p\"", s_modified);
        await proxy.Client.GetByteArrayAsync(proxy.Origin.Url("/p.txt"));
        var request = $"{method} {proxy.Origin.Url("/p.txt")} {version}\r\nHost: x\r\n{fields}";
        var old = HttpDate(s_modified.AddDays(-1));

        var plain = await proxy.RawAsync(request + "\r\n", Answered);
        var general = await proxy.RawAsync(request + $"If-Modified-Since: {old}\r\n\r\n", Answered);

        Assert.StartsWith("HTTP/1.1 200 OK\r\n", plain, StringComparison.Ordinal);
        Assert.Contains("Accept-Ranges: bytes\r\n", plain, StringComparison.Ordinal);
        Assert.Equal(general, plain);

        bool Answered(string text) => text.Contains("\r\n\r\n", StringComparison.Ordinal) && (method == "HEAD" || text.EndsWith("plain body", StringComparison.Ordinal));
    }

    private static string HttpDate(DateTimeOffset time) => time.ToString("r", System.Globalization.CultureInfo.InvariantCulture);

    [Fact]
    public async Task ClientValidators_AgainstAFreshEntry_Get304()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        proxy.Origin.Files["/v"] = new OriginFile("v"u8.ToArray(), CacheControl: "max-age=600", ETag: "\"e\"", LastModified: s_modified);
        await proxy.Client.GetByteArrayAsync(proxy.Origin.Url("/v"));

        var byTag = new HttpRequestMessage(HttpMethod.Get, proxy.Origin.Url("/v"));
        byTag.Headers.TryAddWithoutValidation("If-None-Match", "\"e\"");
        var byDate = new HttpRequestMessage(HttpMethod.Get, proxy.Origin.Url("/v"));
        byDate.Headers.IfModifiedSince = s_modified;

        Assert.Equal(HttpStatusCode.NotModified, (await proxy.Client.SendAsync(byTag)).StatusCode);
        Assert.Equal(HttpStatusCode.NotModified, (await proxy.Client.SendAsync(byDate)).StatusCode);
        Assert.Equal(1, proxy.Origin.CountRequests("/v"));
    }

    [Theory]
    [InlineData("bytes=10-19", 206, 10, 10, "bytes 10-19/100")]
    [InlineData("bytes=90-", 206, 90, 10, "bytes 90-99/100")]
    [InlineData("bytes=-5", 206, 95, 5, "bytes 95-99/100")]
    [InlineData("bytes=95-200", 206, 95, 5, "bytes 95-99/100")]
    [InlineData("bytes=0-0,5-6", 200, 0, 100, null)]
    [InlineData("bytes=100-", 416, 0, 0, "bytes */100")]
    public async Task Range_OnACachedFile_IsServedFromTheCache(string range, int status, int start, int count, string? contentRange)
    {
        await using var proxy = await ProxyFixture.StartAsync();
        var body = Enumerable.Range(0, 100).Select(i => (byte)i).ToArray();
        proxy.Origin.Files["/r"] = new OriginFile(body, CacheControl: "max-age=600", ETag: "\"r\"");
        await proxy.Client.GetByteArrayAsync(proxy.Origin.Url("/r"));
        var request = new HttpRequestMessage(HttpMethod.Get, proxy.Origin.Url("/r"));
        request.Headers.TryAddWithoutValidation("Range", range);

        var reply = await proxy.Client.SendAsync(request);

        Assert.Equal(status, (int)reply.StatusCode);
        Assert.Equal(contentRange, reply.Content.Headers.TryGetValues("Content-Range", out var values) ? values.Single() : null);
        Assert.Equal(body.Skip(start).Take(count).ToArray(), await reply.Content.ReadAsByteArrayAsync());
        Assert.Equal(1, proxy.Origin.CountRequests("/r"));
    }

    [Fact]
    public async Task IfRange_WithAnotherETag_GetsTheWholeBody()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        proxy.Origin.Files["/ir"] = new OriginFile(new byte[50], CacheControl: "max-age=600", ETag: "\"now\"");
        await proxy.Client.GetByteArrayAsync(proxy.Origin.Url("/ir"));
        var request = new HttpRequestMessage(HttpMethod.Get, proxy.Origin.Url("/ir"));
        request.Headers.TryAddWithoutValidation("Range", "bytes=0-9");
        request.Headers.TryAddWithoutValidation("If-Range", "\"before\"");

        var reply = await proxy.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, reply.StatusCode);
        Assert.Equal(50, (await reply.Content.ReadAsByteArrayAsync()).Length);
    }

    [Fact]
    public async Task UpstreamRequest_KeepsTheHostPort_AddsVia_AndDropsHopByHopFields()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        proxy.Origin.Files["/hdr"] = new OriginFile("h"u8.ToArray());

        var reply = await proxy.RawAsync(
            $"GET {proxy.Origin.Url("/hdr")} HTTP/1.1\r\nHost: 127.0.0.1:{proxy.Origin.Port}\r\nProxy-Connection: keep-alive\r\nConnection: close, X-Private\r\nX-Private: secret\r\nX-Kept: yes\r\n\r\n");

        Assert.StartsWith("HTTP/1.1 200", reply, StringComparison.Ordinal);
        var seen = proxy.Origin.Requests.Single(r => r.PathAndQuery == "/hdr");
        Assert.Equal($"127.0.0.1:{proxy.Origin.Port}", seen.Headers["Host"]);
        Assert.Contains("replicator", seen.Headers["Via"], StringComparison.Ordinal);
        Assert.Equal("yes", seen.Headers["X-Kept"]);
        Assert.False(seen.Headers.ContainsKey("X-Private"));
        Assert.False(seen.Headers.ContainsKey("Proxy-Connection"));
    }
}
