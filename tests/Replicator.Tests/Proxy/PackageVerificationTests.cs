using System.Net;

namespace Replicator.Tests.Proxy;

/// <summary>
/// Issue 12, points 1 and 2, against a repository the test makes, served without validators: package files and
/// by-hash indexes cost the origin nothing the second time; bytes that do not match the repository's own indexes
/// never enter the tree; a new Release makes the indexes it no longer lists stale at once.
/// </summary>
public sealed class PackageVerificationTests
{
    private const string Base = "/debian";
    private const string PackagesXz = "main/binary-amd64/Packages.xz";

    [Fact]
    public async Task SecondUpdateAndDownload_AsksTheOriginForNoPoolOrByHashFile()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        var repository = new TestRepository(Base, packages: 5);
        repository.ServeFrom(proxy.Origin);

        for (var pass = 0; pass < 2; pass++)
        {
            await UpdateAndDownloadAsync(proxy, repository);
        }

        Assert.Equal(2, proxy.Origin.CountRequests($"{repository.Dists}/Release"));
        Assert.Equal(1, proxy.Origin.CountRequests(repository.ByHashPath(PackagesXz)));
        Assert.All(repository.Packages, package => Assert.Equal(1, proxy.Origin.CountRequests(repository.UrlPathOf(package))));
        Assert.Equal(["MISS immutable", "HIT immutable"], await proxy.Accesses.OutcomesWithClassAsync(proxy.Origin.Url(repository.UrlPathOf(repository.Packages[0])), 2));
    }

    [Fact]
    public async Task CorruptedPackage_NeverEntersTheTree_IsAskedTwice_AndTheClientGets502()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        var repository = new TestRepository(Base, packages: 2);
        repository.ServeFrom(proxy.Origin);
        var package = repository.Packages[1];
        var corrupted = (byte[])package.Body.Clone();
        corrupted[100] ^= 0xff;
        proxy.Origin.Files[repository.UrlPathOf(package)] = new OriginFile(corrupted);
        await FetchIndexesAsync(proxy, repository);

        using var reply = await proxy.Client.GetAsync(proxy.Origin.Url(repository.UrlPathOf(package)));

        Assert.Equal(HttpStatusCode.BadGateway, reply.StatusCode);
        var reason = await reply.Content.ReadAsStringAsync();
        Assert.Contains("does not match", reason, StringComparison.Ordinal);
        Assert.Contains("Packages.xz", reason, StringComparison.Ordinal);
        Assert.Equal(2, proxy.Origin.CountRequests(repository.UrlPathOf(package)));
        Assert.False(File.Exists(proxy.CachedPath(repository.UrlPathOf(package))));
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(proxy.Root, ".replicator", "partial"), "*", SearchOption.AllDirectories));

        // The origin mends: the next request stores the right bytes.
        proxy.Origin.Files[repository.UrlPathOf(package)] = new OriginFile(package.Body);
        Assert.Equal(package.Body, await proxy.Client.GetByteArrayAsync(proxy.Origin.Url(repository.UrlPathOf(package))));
        Assert.Equal(package.Body, File.ReadAllBytes(proxy.CachedPath(repository.UrlPathOf(package))));
    }

    [Fact]
    public async Task AfterARestart_TheIndexesInTheTreeAreReadWhenServed_AndStillVerify()
    {
        await using var before = await ProxyFixture.StartAsync();
        var repository = new TestRepository(Base, packages: 2);
        repository.ServeFrom(before.Origin);
        await FetchIndexesAsync(before, repository);

        // A new proxy on the same tree knows nothing yet; --static serves both indexes from the tree (hits).
        await using var proxy = await ProxyFixture.StartAsync(s => s with { Root = before.Root, Static = true });
        var package = repository.Packages[0];
        var corrupted = (byte[])package.Body.Clone();
        corrupted[0] ^= 1;
        before.Origin.Files[repository.UrlPathOf(package)] = new OriginFile(corrupted);
        await proxy.Client.GetByteArrayAsync(before.Origin.Url($"{repository.Dists}/Release"));
        await proxy.Client.GetByteArrayAsync(before.Origin.Url(repository.ByHashPath(PackagesXz)));

        using var reply = await proxy.Client.GetAsync(before.Origin.Url(repository.UrlPathOf(package)));

        Assert.Equal(["HIT volatile"], await proxy.Accesses.OutcomesWithClassAsync(before.Origin.Url($"{repository.Dists}/Release"), 1));
        Assert.Equal(HttpStatusCode.BadGateway, reply.StatusCode);
        Assert.False(File.Exists(before.CachedPath(repository.UrlPathOf(package))));
    }

    [Fact]
    public async Task ByHashFile_ThatDoesNotHashToItsName_Gets502_WithNoIndexKnown()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        var repository = new TestRepository(Base, packages: 1);
        var path = repository.ByHashPath(PackagesXz);
        proxy.Origin.Files[path] = new OriginFile("not what the name says"u8.ToArray());

        using var reply = await proxy.Client.GetAsync(proxy.Origin.Url(path));

        Assert.Equal(HttpStatusCode.BadGateway, reply.StatusCode);
        Assert.Contains("its by-hash name", await reply.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.False(File.Exists(proxy.CachedPath(path)));
    }

    [Fact]
    public async Task IndexOfTheWrongSize_IsRefusedByTheRelease()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        var repository = new TestRepository(Base, packages: 3);
        repository.ServeFrom(proxy.Origin);
        await proxy.Client.GetByteArrayAsync(proxy.Origin.Url($"{repository.Dists}/Release"));
        proxy.Origin.Files[$"{repository.Dists}/{PackagesXz}"] = new OriginFile([.. repository.Indexes[PackagesXz], 0]);

        using var reply = await proxy.Client.GetAsync(proxy.Origin.Url($"{repository.Dists}/{PackagesXz}"));

        Assert.Equal(HttpStatusCode.BadGateway, reply.StatusCode);
        Assert.Contains("Release", await reply.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task NewRelease_MakesTheOldIndexesStaleAtOnce_EvenWhenTheOriginWouldSay304()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        var old = new TestRepository(Base, packages: 2, generation: 1);
        old.ServeFrom(proxy.Origin);
        var packages = $"{old.Dists}/main/binary-amd64/Packages";
        proxy.Origin.Files[packages] = new OriginFile(old.Indexes["main/binary-amd64/Packages"], ETag: "\"same\"");
        await proxy.Client.GetByteArrayAsync(proxy.Origin.Url($"{old.Dists}/Release"));
        await proxy.Client.GetByteArrayAsync(proxy.Origin.Url(packages));

        // The next generation, from an origin whose Packages keeps its old ETag (a mirror answering 304 wrongly).
        var next = new TestRepository(Base, packages: 3, generation: 2);
        next.ServeFrom(proxy.Origin);
        proxy.Origin.Files[packages] = new OriginFile(next.Indexes["main/binary-amd64/Packages"], ETag: "\"same\"");
        await proxy.Client.GetByteArrayAsync(proxy.Origin.Url($"{old.Dists}/Release"));

        Assert.Equal(next.PackagesText, await proxy.Client.GetStringAsync(proxy.Origin.Url(packages)));
        Assert.Equal(next.PackagesText, File.ReadAllText(proxy.CachedPath(packages)));
    }

    /// <summary>What apt does: the Release, the Packages index by hash, then the packages.</summary>
    private static async Task UpdateAndDownloadAsync(ProxyFixture proxy, TestRepository repository)
    {
        await FetchIndexesAsync(proxy, repository);
        foreach (var package in repository.Packages)
        {
            Assert.Equal(package.Body, await proxy.Client.GetByteArrayAsync(proxy.Origin.Url(repository.UrlPathOf(package))));
        }
    }

    private static async Task FetchIndexesAsync(ProxyFixture proxy, TestRepository repository)
    {
        Assert.Equal(repository.Release, await proxy.Client.GetByteArrayAsync(proxy.Origin.Url($"{repository.Dists}/Release")));
        Assert.Equal(repository.Indexes[PackagesXz], await proxy.Client.GetByteArrayAsync(proxy.Origin.Url(repository.ByHashPath(PackagesXz))));
    }
}
