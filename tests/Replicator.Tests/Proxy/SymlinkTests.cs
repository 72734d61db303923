namespace Replicator.Tests.Proxy;

/// <summary>
/// Symbolic links planted in the cache tree (issue 9) are never followed, for reading or for writing: whatever a
/// link points at outside the root is neither served nor written.
/// </summary>
public sealed class SymlinkTests : IDisposable
{
    private readonly string _outside = Directory.CreateTempSubdirectory("replicator-outside-").FullName;

    public SymlinkTests()
    {
        File.WriteAllText(Path.Combine(_outside, "secret"), "the secret");
    }

    public void Dispose() => Directory.Delete(_outside, recursive: true);

    [Fact]
    public async Task Offline_LinkedDirectory_IsNotServed()
    {
        await using var proxy = await ProxyFixture.StartAsync(s => s with { Offline = true, Static = true });
        Directory.CreateDirectory(proxy.CachedPath(string.Empty));
        Directory.CreateSymbolicLink(proxy.CachedPath("/etc"), _outside);

        using var reply = await proxy.Client.GetAsync(proxy.Origin.Url("/etc/secret"));

        Assert.Equal(System.Net.HttpStatusCode.GatewayTimeout, reply.StatusCode);
        Assert.DoesNotContain("the secret", await reply.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(["OFFLINE"], await proxy.Accesses.OutcomesAsync(proxy.Origin.Url("/etc/secret"), 1));
    }

    [Fact]
    public async Task LinkedDirectory_TheOriginsFileIsServed_AndNothingIsWrittenThroughTheLink()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        proxy.Origin.Files["/dir/file"] = new OriginFile("from the origin"u8.ToArray(), CacheControl: "max-age=600");
        Directory.CreateDirectory(proxy.CachedPath(string.Empty));
        Directory.CreateSymbolicLink(proxy.CachedPath("/dir"), _outside);

        Assert.Equal("from the origin", await proxy.Client.GetStringAsync(proxy.Origin.Url("/dir/file")));
        Assert.Equal("from the origin", await proxy.Client.GetStringAsync(proxy.Origin.Url("/dir/file")));

        Assert.Equal(["secret"], Directory.EnumerateFileSystemEntries(_outside).Select(Path.GetFileName));
        // Both times downloaded and served, and not stored where the link stands.
        Assert.Equal(["MISS", "MISS"], await proxy.Accesses.OutcomesAsync(proxy.Origin.Url("/dir/file"), 2));
    }

    [Fact]
    public async Task LinkInTheLastPlace_IsReplacedByTheDownloadedFile_AndItsTargetIsUntouched()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        proxy.Origin.Files["/file"] = new OriginFile("from the origin"u8.ToArray(), CacheControl: "max-age=600");
        Directory.CreateDirectory(proxy.CachedPath(string.Empty));
        File.CreateSymbolicLink(proxy.CachedPath("/file"), Path.Combine(_outside, "secret"));

        Assert.Equal("from the origin", await proxy.Client.GetStringAsync(proxy.Origin.Url("/file")));

        Assert.Null(new FileInfo(proxy.CachedPath("/file")).LinkTarget);
        Assert.Equal("from the origin", File.ReadAllText(proxy.CachedPath("/file")));
        Assert.Equal("the secret", File.ReadAllText(Path.Combine(_outside, "secret")));
    }

    [Theory]
    [InlineData(10)]
    [InlineData(200_000)]
    public async Task CachedFileSwappedForALink_IsNotServed(int size)
    {
        await using var proxy = await ProxyFixture.StartAsync(s => s with { Static = true });
        var body = new byte[size];
        proxy.Origin.Files["/swapped"] = new OriginFile(body, CacheControl: "max-age=600");
        Assert.Equal(body, await proxy.Client.GetByteArrayAsync(proxy.Origin.Url("/swapped")));
        Assert.Equal(body, await proxy.Client.GetByteArrayAsync(proxy.Origin.Url("/swapped")));

        File.Delete(proxy.CachedPath("/swapped"));
        File.CreateSymbolicLink(proxy.CachedPath("/swapped"), Path.Combine(_outside, "secret"));

        var served = await proxy.Client.GetByteArrayAsync(proxy.Origin.Url("/swapped"));
        Assert.Equal(body, served);
    }

    [Fact]
    public async Task LinkedPartialDirectory_NothingIsWrittenThroughIt()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        proxy.Origin.Files["/p"] = new OriginFile("partly"u8.ToArray(), CacheControl: "max-age=600");
        var partials = Path.Combine(proxy.Root, ".replicator", "partial");
        Directory.CreateDirectory(partials);
        Directory.CreateSymbolicLink(Path.Combine(partials, $"127.0.0.1:{proxy.Origin.Port}"), _outside);

        Assert.Equal("partly", await proxy.Client.GetStringAsync(proxy.Origin.Url("/p")));

        Assert.Equal(["secret"], Directory.EnumerateFileSystemEntries(_outside).Select(Path.GetFileName));
    }
}
