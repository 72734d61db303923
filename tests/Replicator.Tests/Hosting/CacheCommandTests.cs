using System.Text.Json;

namespace Replicator.Tests.Hosting;

/// <summary><c>replicator cache ...</c> on a tree a proxy filled (issue 14, point 4), through the real program.</summary>
public sealed class CacheCommandTests
{
    private const string Base = "/debian";

    private static async Task<TestRepository> CacheRepositoryAsync(ProxyFixture proxy, int packages)
    {
        var repository = new TestRepository(Base, packages);
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
