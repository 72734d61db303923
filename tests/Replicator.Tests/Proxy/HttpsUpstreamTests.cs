using System.Net;
using Replicator.Proxy;

namespace Replicator.Tests.Proxy;

/// <summary>
/// Issue 12, point 4: https repositories, through named backends and /https/HOST/PATH, over TLS on the engine's
/// own sockets, with the certificate checked (against an authority the test makes, given as --ca-file); the files
/// are kept under ROOT/https/ and served offline afterwards.
/// </summary>
public sealed class HttpsUpstreamTests
{
    private const string Deb = "/debian/pool/main/h/hello/hello_2.10-3_amd64.deb";

    [Fact]
    public async Task HttpsBackend_IsMirrored_KeptApart_AndServedOfflineAfterwards()
    {
        using var certificates = new TestCertificates();
        await using var secure = await TestOrigin.StartAsync(certificates.Server);
        secure.Files[Deb] = new OriginFile("over tls"u8.ToArray());
        secure.Files["/debian/big.bin"] = new OriginFile(TestBodies.Random(12, 3 << 20));
        var backend = $"https://127.0.0.1:{secure.Port}/debian";
        await using var proxy = await ProxyFixture.StartAsync(s => s with
        {
            Mirrors = new MirrorRoutes([("sec", backend)]),
            ExtraAuthorities = [certificates.Authority],
        });
        var root = proxy.Root;
        var named = await proxy.RawAsync("GET /sec/pool/main/h/hello/hello_2.10-3_amd64.deb HTTP/1.1\r\nHost: r\r\nConnection: close\r\n\r\n");
        var big = await proxy.RawAsync("GET /sec/big.bin HTTP/1.1\r\nHost: r\r\nConnection: close\r\n\r\n");
        var explicitForm = await proxy.RawAsync($"GET /https/127.0.0.1:{secure.Port}{Deb} HTTP/1.1\r\nHost: r\r\nConnection: close\r\n\r\n");

        Assert.StartsWith("HTTP/1.1 200 ", named, StringComparison.Ordinal);
        Assert.EndsWith("over tls", named, StringComparison.Ordinal);
        Assert.EndsWith("over tls", explicitForm, StringComparison.Ordinal);
        Assert.Contains($"Content-Length: {3 << 20}", big, StringComparison.Ordinal);
        Assert.Equal(1, secure.CountRequests(Deb)); // the explicit form found the named one's file
        Assert.Equal("over tls", File.ReadAllText(Path.Combine(root, "https", $"127.0.0.1:{secure.Port}") + Deb));
        Assert.Equal(TestBodies.Random(12, 3 << 20), File.ReadAllBytes(Path.Combine(root, "https", $"127.0.0.1:{secure.Port}", "debian", "big.bin")));
        Assert.False(Directory.Exists(Path.Combine(root, $"127.0.0.1:{secure.Port}")));

        await secure.DisposeAsync();
        await using var offline = await ProxyFixture.StartAsync(s => s with { Root = root, Offline = true, Mirrors = new MirrorRoutes([("sec", backend)]) });
        var served = await offline.RawAsync("GET /sec/pool/main/h/hello/hello_2.10-3_amd64.deb HTTP/1.1\r\nHost: r\r\nConnection: close\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 200 ", served, StringComparison.Ordinal);
        Assert.EndsWith("over tls", served, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UntrustedCertificate_Is502_NeverFetched()
    {
        using var certificates = new TestCertificates();
        await using var secure = await TestOrigin.StartAsync(certificates.Server);
        secure.Files[Deb] = new OriginFile("over tls"u8.ToArray());
        await using var proxy = await ProxyFixture.StartAsync();

        var reply = await proxy.RawAsync($"GET /https/127.0.0.1:{secure.Port}{Deb} HTTP/1.1\r\nHost: r\r\nConnection: close\r\n\r\n");

        Assert.StartsWith("HTTP/1.1 502 ", reply, StringComparison.Ordinal);
        Assert.Contains("TLS failed", reply, StringComparison.Ordinal);
        Assert.Equal(0, secure.CountRequests(Deb));
    }

    [Fact]
    public async Task ACertificateForAnotherName_IsRefused_EvenFromATrustedAuthority()
    {
        using var certificates = new TestCertificates(name: "other.example");
        await using var secure = await TestOrigin.StartAsync(certificates.Server);
        secure.Files[Deb] = new OriginFile("over tls"u8.ToArray());
        await using var proxy = await ProxyFixture.StartAsync(s => s with { ExtraAuthorities = [certificates.Authority] });

        var reply = await proxy.RawAsync($"GET /https/127.0.0.1:{secure.Port}{Deb} HTTP/1.1\r\nHost: r\r\nConnection: close\r\n\r\n");

        Assert.StartsWith("HTTP/1.1 502 ", reply, StringComparison.Ordinal);
        Assert.Equal(0, secure.CountRequests(Deb));
    }
}
