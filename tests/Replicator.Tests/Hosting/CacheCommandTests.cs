using System.Text.Json;

namespace Replicator.Tests.Hosting;

/// <summary><c>replicator cache ...</c> on a tree a proxy filled (issue 14, point 4), through the real program.</summary>
public sealed class CacheCommandTests
{
    private const string Base = "/debian";

    private static async Task<TestRepository> CacheRepositoryAsync(ProxyFixture proxy, int packages, int generation = 1)
    {
        var repository = new TestRepository(Base, packages, generation: generation);
        repository.ServeFrom(proxy.Origin);
        await proxy.Client.GetByteArrayAsync(proxy.Origin.Url($"{repository.Dists}/Release"));
        foreach (var index in repository.Indexes.Keys)
        {
            await proxy.Client.GetByteArrayAsync(proxy.Origin.Url($"{repository.Dists}/{index}"));
        }

        return repository;
    }

    [Fact]
    public async Task Verify_FindsFilesDamagedByHand_AndFixMakesTheNextRequestFetchThemAgain()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        var repository = await CacheRepositoryAsync(proxy, packages: 3);
        var package = repository.Packages[1];
        var packagePath = repository.UrlPathOf(package);
        await proxy.Client.GetByteArrayAsync(proxy.Origin.Url(packagePath));
        proxy.Origin.Files["/page"] = new OriginFile(TestBodies.Random(3, 5000), CacheControl: "max-age=3600");
        await proxy.Client.GetByteArrayAsync(proxy.Origin.Url("/page"));

        // A package flipped in place (size and time stamp kept: only its SHA256 tells), a page cut short.
        var onDisk = proxy.CachedPath(packagePath);
        var stamp = File.GetLastWriteTimeUtc(onDisk);
        var flipped = File.ReadAllBytes(onDisk);
        flipped[10] ^= 0xff;
        File.WriteAllBytes(onDisk, flipped);
        File.SetLastWriteTimeUtc(onDisk, stamp);
        using (var page = File.OpenWrite(proxy.CachedPath("/page")))
        {
            page.SetLength(100);
        }

        var (exit, stdout, _) = await ReplicatorProcess.RunToEndAsync("cache", "verify", "--root", proxy.Root);
        Assert.Equal(1, exit);
        Assert.Contains($"damaged 127.0.0.1:{proxy.Origin.Port}{packagePath}: ", stdout, StringComparison.Ordinal);
        Assert.Contains("Packages", stdout, StringComparison.Ordinal);
        Assert.Contains($"damaged 127.0.0.1:{proxy.Origin.Port}/page: 100 bytes", stdout, StringComparison.Ordinal);
        Assert.Contains(" 2 damaged", stdout, StringComparison.Ordinal);

        (exit, stdout, _) = await ReplicatorProcess.RunToEndAsync("cache", "verify", "--root", proxy.Root, "--fix", "--json");
        Assert.Equal(0, exit);
        Assert.Equal(2, JsonDocument.Parse(stdout).RootElement.GetProperty("damaged").GetArrayLength());
        Assert.False(File.Exists(onDisk));

        Assert.Equal(package.Body, await proxy.Client.GetByteArrayAsync(proxy.Origin.Url(packagePath)));
        Assert.Equal(proxy.Origin.Files["/page"].Body, await proxy.Client.GetByteArrayAsync(proxy.Origin.Url("/page")));
        Assert.Equal(2, proxy.Origin.CountRequests(packagePath));
        Assert.Equal(2, proxy.Origin.CountRequests("/page"));
        Assert.Equal(package.Body, File.ReadAllBytes(onDisk));
        (exit, _, _) = await ReplicatorProcess.RunToEndAsync("cache", "verify", "--root", proxy.Root);
        Assert.Equal(0, exit);
    }

    [Fact]
    public async Task Import_AdoptsOnlyFilesWhoseSha256AnIndexLists_AtTheirPoolPath()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        var repository = await CacheRepositoryAsync(proxy, packages: 3);
        var archives = Path.Combine(proxy.Root, "..", "archives");
        Directory.CreateDirectory(archives);
        var listed = repository.Packages[2];
        File.WriteAllBytes(Path.Combine(archives, Path.GetFileName(listed.Filename)), listed.Body);
        var forged = (byte[])repository.Packages[0].Body.Clone();
        forged[0] ^= 1; // same size as a listed package, another SHA256
        File.WriteAllBytes(Path.Combine(archives, Path.GetFileName(repository.Packages[0].Filename)), forged);
        File.WriteAllBytes(Path.Combine(archives, "stranger_1.0_all.deb"), TestBodies.Random(5, 777));

        var (exit, stdout, _) = await ReplicatorProcess.RunToEndAsync("cache", "import", archives, "--root", proxy.Root, "--json");

        Assert.Equal(0, exit);
        var result = JsonDocument.Parse(stdout).RootElement;
        Assert.Equal(2, result.GetProperty("skipped").GetInt32());
        Assert.Equal($"127.0.0.1:{proxy.Origin.Port}{repository.UrlPathOf(listed)}", Assert.Single(result.GetProperty("adopted").EnumerateArray()).GetProperty("path").GetString());
        Assert.Equal(listed.Body, File.ReadAllBytes(proxy.CachedPath(repository.UrlPathOf(listed))));
        Assert.False(File.Exists(proxy.CachedPath(repository.UrlPathOf(repository.Packages[0]))));

        // Served from the tree: a package file is never asked for again.
        Assert.Equal(listed.Body, await proxy.Client.GetByteArrayAsync(proxy.Origin.Url(repository.UrlPathOf(listed))));
        Assert.Equal(0, proxy.Origin.CountRequests(repository.UrlPathOf(listed)));
    }

    [Fact]
    public async Task Expire_RemovesOnlyWhatNoIndexLists_KeepsTheNewestVersions_AndLeavesABrokenRepositoryAlone()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        var old = await CacheRepositoryAsync(proxy, packages: 3);
        foreach (var package in old.Packages)
        {
            await proxy.Client.GetByteArrayAsync(proxy.Origin.Url(old.UrlPathOf(package)));
        }

        // The repository moves on to new versions; only pkg0's new version is fetched.
        var current = await CacheRepositoryAsync(proxy, packages: 3, generation: 2);
        await proxy.Client.GetByteArrayAsync(proxy.Origin.Url(current.UrlPathOf(current.Packages[0])));
        string Cached(TestRepository repository, int i) => proxy.CachedPath(repository.UrlPathOf(repository.Packages[i]));

        // The first run only starts the clock of the files no index lists.
        var (exit, stdout, _) = await ReplicatorProcess.RunToEndAsync("cache", "expire", "--root", proxy.Root);
        Assert.Equal(0, exit);
        Assert.Contains("0 package files expired", stdout, StringComparison.Ordinal);
        Assert.Contains("1 listed; 3 unlisted but kept", stdout, StringComparison.Ordinal);

        (_, stdout, _) = await ReplicatorProcess.RunToEndAsync("cache", "expire", "--root", proxy.Root, "--expire-after", "0", "--keep-versions", "0", "--dry-run", "--json");
        var expired = JsonDocument.Parse(stdout).RootElement.GetProperty("expired").EnumerateArray().Select(file => file.GetProperty("path").GetString()).Order().ToList();
        Assert.Equal([.. old.Packages.Select(package => $"127.0.0.1:{proxy.Origin.Port}{old.UrlPathOf(package)}").Order()], expired);
        Assert.All(old.Packages, (_, i) => Assert.True(File.Exists(Cached(old, i))));

        // A cached index that does not match its Release (damaged on disk): that repository is left alone.
        var packagesIndex = proxy.CachedPath($"{current.Dists}/main/binary-amd64/Packages");
        var intact = File.ReadAllBytes(packagesIndex);
        File.WriteAllText(packagesIndex, "Package: half\n");
        (exit, stdout, _) = await ReplicatorProcess.RunToEndAsync("cache", "expire", "--root", proxy.Root, "--expire-after", "0");
        Assert.Equal(0, exit);
        Assert.Contains("left alone", stdout, StringComparison.Ordinal);
        Assert.Contains("0 package files expired", stdout, StringComparison.Ordinal);
        Assert.All(old.Packages, (_, i) => Assert.True(File.Exists(Cached(old, i))));
        File.WriteAllBytes(packagesIndex, intact);

        // Keeping one version: pkg0 1.1 goes (1.2 is here); pkg1 and pkg2 keep their only version; nothing listed goes.
        (exit, stdout, _) = await ReplicatorProcess.RunToEndAsync("cache", "expire", "--root", proxy.Root, "--expire-after", "0");
        Assert.Equal(0, exit);
        Assert.Contains("1 package files expired", stdout, StringComparison.Ordinal);
        Assert.False(File.Exists(Cached(old, 0)));
        Assert.True(File.Exists(Cached(old, 1)));
        Assert.True(File.Exists(Cached(old, 2)));
        Assert.True(File.Exists(Cached(current, 0)));
        Assert.Equal(current.Packages[0].Body, await proxy.Client.GetByteArrayAsync(proxy.Origin.Url(current.UrlPathOf(current.Packages[0]))));
    }

    [Theory]
    [InlineData("1.2", "1.10", -1)]
    [InlineData("1.0~rc1", "1.0", -1)]
    [InlineData("1.0", "1.0+b1", -1)]
    [InlineData("2:1.0", "3.0", 1)]
    [InlineData("1.0-2", "1.0-10", -1)]
    [InlineData("1.0a", "1.0", 1)]
    [InlineData("1.0", "1.0", 0)]
    [InlineData("1%3a2.0", "2.0", 1)]
    public void DebianVersionOrder(string a, string b, int expected)
    {
        Assert.Equal(expected, Math.Sign(Replicator.Cache.Packages.DebianVersion.Compare(a, b)));
        Assert.Equal(-expected, Math.Sign(Replicator.Cache.Packages.DebianVersion.Compare(b, a)));
    }

    [Fact]
    public async Task PurgeAndStats_ByUrlHostAndGlob_WithDryRun()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        foreach (var path in (string[])["/a.deb", "/b.deb", "/c.html"])
        {
            proxy.Origin.Files[path] = new OriginFile(TestBodies.Random(path[1], 1000), CacheControl: "max-age=3600");
            await proxy.Client.GetByteArrayAsync(proxy.Origin.Url(path));
        }

        await proxy.Client.GetByteArrayAsync(proxy.Origin.Url("/a.deb"));
        await proxy.Accesses.OutcomesAsync(proxy.Origin.Url("/a.deb"), 2);
        await proxy.Server.Usage.FlushAsync().WaitAsync(TimeSpan.FromSeconds(20));
        var host = $"127.0.0.1:{proxy.Origin.Port}";

        var (exit, stdout, _) = await ReplicatorProcess.RunToEndAsync("cache", "stats", "--root", proxy.Root, "--json");
        Assert.Equal(0, exit);
        var stats = JsonDocument.Parse(stdout).RootElement;
        Assert.Equal((3, 3000), (stats.GetProperty("files").GetInt32(), stats.GetProperty("bytes").GetInt32()));
        Assert.Equal((1, 3), (stats.GetProperty("hits").GetInt32(), stats.GetProperty("misses").GetInt32()));
        Assert.Equal(host, Assert.Single(stats.GetProperty("hosts").EnumerateArray()).GetProperty("host").GetString());

        (exit, stdout, _) = await ReplicatorProcess.RunToEndAsync("cache", "purge", $"{host}/*.deb", "--dry-run", "--root", proxy.Root);
        Assert.Equal(0, exit);
        Assert.Contains("2 files, ", stdout, StringComparison.Ordinal);
        Assert.True(File.Exists(proxy.CachedPath("/a.deb")));

        (exit, _, _) = await ReplicatorProcess.RunToEndAsync("cache", "purge", proxy.Origin.Url("/a.deb"), "--root", proxy.Root);
        Assert.Equal(0, exit);
        Assert.False(File.Exists(proxy.CachedPath("/a.deb")));
        Assert.True(File.Exists(proxy.CachedPath("/b.deb")));

        (exit, stdout, _) = await ReplicatorProcess.RunToEndAsync("cache", "purge", host, "--root", proxy.Root);
        Assert.Contains("2 files, ", stdout, StringComparison.Ordinal);
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(proxy.Root, host), "*", SearchOption.AllDirectories));

        (exit, _, var stderr) = await ReplicatorProcess.RunToEndAsync("cache", "purge", "http://[bad", "--root", proxy.Root);
        Assert.Equal(2, exit);
        Assert.StartsWith("replicator: purge: 'http://[bad' is not a URL", stderr, StringComparison.Ordinal);
    }
}
