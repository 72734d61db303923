using Replicator.Http;
using Replicator.Proxy;

namespace Replicator.Tests.Proxy;

/// <summary>Issue 12, point 3: mirror URLs (/HOST/PATH) and named backends (--mirror NAME=URL), one cache with proxied requests.</summary>
public sealed class MirrorRoutesTests
{
    private const string Deb = "/debian/pool/main/h/hello/hello_2.10-3_amd64.deb";

    [Theory]
    [InlineData("/deb.debian.org/debian/dists/bookworm/InRelease", "http://deb.debian.org/debian/dists/bookworm/InRelease")]
    [InlineData("/127.0.0.1:8000/a?b=c", "http://127.0.0.1:8000/a?b=c")]
    [InlineData("/example.org", "http://example.org/")]
    [InlineData("/example.org?x", "http://example.org/?x")]
    [InlineData("/[::1]:81/x", "http://[::1]:81/x")]
    [InlineData("/debian/dists/bookworm/Release", "http://mirror.example/debian/dists/bookworm/Release")]
    [InlineData("/DEBIAN/x", "http://mirror.example/debian/x")]
    [InlineData("/debian", "http://mirror.example/debian/")]
    public void Resolve_MapsTargetsToUpstreamUrls(string target, string url)
    {
        var routes = new MirrorRoutes([("debian", "http://mirror.example/debian/")]);

        Assert.Equal(url, routes.Resolve(target)![0].ToString());
    }

    [Theory]
    [InlineData("/")]
    [InlineData("*")]
    [InlineData("/?refresh=1")]
    [InlineData("/.replicator/")]
    [InlineData("/.replicator/stats")]
    [InlineData("/favicon.ico")]
    public void Resolve_LeavesTheProxysOwnPages(string target)
    {
        Assert.Null(MirrorRoutes.None.Resolve(target));
    }

    [Theory]
    [InlineData("//x")]
    [InlineData("/.hidden/x")]
    [InlineData("/a@b/x")]
    public void Resolve_RefusesWhatIsNeither(string target)
    {
        Assert.Throws<HttpParseException>(() => MirrorRoutes.None.Resolve(target));
    }

    [Theory]
    [InlineData("debian")]
    [InlineData("=http://x/")]
    [InlineData("a b=http://x/")]
    [InlineData("d=ftp://x/")]
    [InlineData("d=http://x/?q")]
    public void ParseMirror_RefusesBadSpecs(string spec)
    {
        Assert.Throws<FormatException>(() => MirrorRoutes.ParseMirror(spec));
    }

    [Fact]
    public void ANameGivenTwice_GetsBothUrlsInOrder()
    {
        var routes = new MirrorRoutes([("d", "http://a.example/debian"), ("d", "http://b.example/debian")]);

        Assert.Equal(["http://a.example/debian/x", "http://b.example/debian/x"], routes.Resolve("/d/x")!.Select(url => url.ToString()));
    }

    [Fact]
    public async Task MirrorUrl_LandsInTheSameFileAsTheProxiedRequest()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        proxy.Origin.Files[Deb] = new OriginFile("package bytes"u8.ToArray());

        var viaMirror = await proxy.RawAsync($"GET /127.0.0.1:{proxy.Origin.Port}{Deb} HTTP/1.1\r\nHost: replicator\r\nConnection: close\r\n\r\n");
        var proxied = await proxy.Client.GetStringAsync(proxy.Origin.Url(Deb));

        Assert.StartsWith("HTTP/1.1 200 ", viaMirror, StringComparison.Ordinal);
        Assert.EndsWith("package bytes", viaMirror, StringComparison.Ordinal);
        Assert.Equal("package bytes", proxied);
        Assert.Equal("package bytes", File.ReadAllText(proxy.CachedPath(Deb)));
        Assert.Equal(1, proxy.Origin.CountRequests(Deb));
        Assert.Equal($"127.0.0.1:{proxy.Origin.Port}", proxy.Origin.Requests.Single().Headers["Host"]);
        Assert.Equal(["MISS", "HIT"], await proxy.Accesses.OutcomesAsync(proxy.Origin.Url(Deb), 2));
    }

    [Fact]
    public async Task NamedBackend_FallsBackToItsNextUrl_AndLandsInTheFirstOnesFile()
    {
        var deadPort = TestPorts.Closed();
        await using var proxy = await ProxyFixture.StartAsync(configureAfterOrigin: null);
        await using var named = await ProxyFixture.StartAsync(s => s with
        {
            Root = proxy.Root,
            Mirrors = new MirrorRoutes([("deb", $"http://127.0.0.1:{proxy.Origin.Port}/debian"), ("deb", $"http://127.0.0.1:{deadPort}/debian")]),
        });
        await using var fallback = await ProxyFixture.StartAsync(s => s with
        {
            Mirrors = new MirrorRoutes([("deb", $"http://127.0.0.1:{deadPort}/debian"), ("deb", $"http://127.0.0.1:{proxy.Origin.Port}/debian")]),
        });
        proxy.Origin.Files[Deb] = new OriginFile("package bytes"u8.ToArray());
        const string Target = "/deb/pool/main/h/hello/hello_2.10-3_amd64.deb";

        var direct = await named.RawAsync($"GET {Target} HTTP/1.1\r\nHost: replicator\r\nConnection: close\r\n\r\n");
        var failedOver = await fallback.RawAsync($"GET {Target} HTTP/1.1\r\nHost: replicator\r\nConnection: close\r\n\r\n");

        Assert.EndsWith("package bytes", direct, StringComparison.Ordinal);
        Assert.Equal("package bytes", File.ReadAllText(proxy.CachedPath(Deb)));
        Assert.EndsWith("package bytes", failedOver, StringComparison.Ordinal);
        Assert.Equal("package bytes", File.ReadAllText(Path.Combine(fallback.Root, $"127.0.0.1:{deadPort}") + Deb));
    }

    [Fact]
    public async Task OwnPages_StayTheProxys()
    {
        await using var proxy = await ProxyFixture.StartAsync();

        var page = await proxy.RawAsync("GET / HTTP/1.1\r\nHost: replicator\r\nConnection: close\r\n\r\n");
        var missing = await proxy.RawAsync($"GET {MirrorRoutes.OwnPrefix}nothing HTTP/1.1\r\nHost: replicator\r\nConnection: close\r\n\r\n");

        Assert.StartsWith("HTTP/1.1 200 ", page, StringComparison.Ordinal);
        Assert.Contains("<h1>Replicator</h1>", page, StringComparison.Ordinal);
        Assert.StartsWith("HTTP/1.1 404 ", missing, StringComparison.Ordinal);
        Assert.Contains("is not a page of this proxy", missing, StringComparison.Ordinal);
    }
}
