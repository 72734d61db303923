using System.Net;
using Microsoft.Extensions.Time.Testing;
using Replicator.Cache.Upkeep;

namespace Replicator.Tests.Proxy;

/// <summary>A cache left alone for years (issue 14): the size cap, the usage kept across restarts, PURGE.</summary>
public sealed class UpkeepTests
{
    private const int MiB = 1024 * 1024;

    [Fact]
    public async Task OverMaxSize_TheLeastRecentlyUsedFileGoes_AndOneBeingReadStays()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        // Room for all but 1.5 MiB of the four files; eviction goes down to 99% of it: one file has to go.
        await using var proxy = await ProxyFixture.StartAsync(s => s with { Upkeep = s.Upkeep with { MaxSize = (21 * MiB) + (MiB / 2), LowWater = 0.99 } }, clock);
        foreach (var name in (string[])["/read", "/a", "/b", "/c"])
        {
            // The file being read is larger than what the sockets buffer, so that its hit is still being sent.
            proxy.Origin.Files[name] = new OriginFile(TestBodies.Random(name.Length + name[1], name == "/read" ? 16 * MiB : 2 * MiB), CacheControl: "max-age=3600");
        }

        async Task GetAsync(string path, int outcomes)
        {
            clock.Advance(TimeSpan.FromSeconds(1));
            Assert.Equal(proxy.Origin.Files[path].Body, await proxy.Client.GetByteArrayAsync(proxy.Origin.Url(path)));
            await proxy.Accesses.OutcomesAsync(proxy.Origin.Url(path), outcomes); // recorded once its access line is
        }

        await GetAsync("/read", 1);
        await GetAsync("/a", 1);

        // The oldest file is being read (a hit, the client reading slowly) while the next ones pass the cap.
        using var reader = proxy.NewClient();
        var reading = await reader.GetAsync(proxy.Origin.Url("/read"), HttpCompletionOption.ResponseHeadersRead);
        var stream = await reading.Content.ReadAsStreamAsync();
        var start = new byte[1000];
        await stream.ReadExactlyAsync(start);
        await GetAsync("/b", 1);
        await GetAsync("/a", 2); // /a used again: /b is now the least recently used but for /read
        await GetAsync("/c", 1);
        await proxy.Server.Usage.FlushAsync().WaitAsync(TimeSpan.FromSeconds(20));

        Assert.False(File.Exists(proxy.CachedPath("/b")));
        Assert.True(File.Exists(proxy.CachedPath("/read")));
        Assert.True(File.Exists(proxy.CachedPath("/a")));
        Assert.True(File.Exists(proxy.CachedPath("/c")));
        Assert.False(File.Exists(Path.Combine(proxy.Root, ".replicator", "meta", $"127.0.0.1:{proxy.Origin.Port}", "b")));
        Assert.Equal(1, proxy.Server.Usage.Evictions);
        var rest = new MemoryStream();
        await stream.CopyToAsync(rest);
        Assert.Equal(proxy.Origin.Files["/read"].Body, start.Concat(rest.ToArray()).ToArray());

        // Evicted: asked again.
        await GetAsync("/b", 2);
        Assert.Equal(2, proxy.Origin.CountRequests("/b"));
    }

    [Fact]
    public async Task UnderMinFree_TheLeastRecentlyUsedGo_UntilTheFileSystemHasRoomAgain()
    {
        using var disk = SmallDisk.TryMount("8m");
        if (disk is null)
        {
            return; // not root: no tmpfs to fill (CI runs as root)
        }

        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var proxy = await ProxyFixture.StartAsync(s => s with { Root = Path.Combine(disk.Path, "cache"), Upkeep = s.Upkeep with { MinFree = 0.5 } }, clock);
        foreach (var name in (string[])["/first", "/second", "/third"])
        {
            proxy.Origin.Files[name] = new OriginFile(TestBodies.Random(name.Length, (3 * MiB) / 2), CacheControl: "max-age=3600");
            clock.Advance(TimeSpan.FromSeconds(1));
            await proxy.Client.GetByteArrayAsync(proxy.Origin.Url(name));
            await proxy.Accesses.OutcomesAsync(proxy.Origin.Url(name), 1);
        }

        // 4.5 MiB of 8 in use: under half free, the oldest goes (and no more than needed).
        await proxy.Server.Usage.FlushAsync().WaitAsync(TimeSpan.FromSeconds(20));
        var drive = new DriveInfo(disk.Path);
        Assert.True(drive.AvailableFreeSpace >= drive.TotalSize / 2, $"{drive.AvailableFreeSpace} of {drive.TotalSize} free");
        Assert.False(File.Exists(proxy.CachedPath("/first")));
        Assert.True(File.Exists(proxy.CachedPath("/third")));
        Assert.Equal(1, proxy.Server.Usage.Evictions);
    }

    [Fact]
    public async Task TheProxysDailyExpiry_RemovesPackageFilesNoIndexListsAnyMore()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var proxy = await ProxyFixture.StartAsync(s => s with { Upkeep = s.Upkeep with { Expiry = new ExpiryOptions { ExpireAfterDays = 1, KeepVersions = 0 } } }, clock);
        var old = new TestRepository("/debian", packages: 2);
        var current = new TestRepository("/debian", packages: 2, generation: 2);
        foreach (var repository in (TestRepository[])[old, current])
        {
            repository.ServeFrom(proxy.Origin);
            clock.Advance(TimeSpan.FromMinutes(1)); // a later Release (the catalog tells indexes apart by length and time)
            using var client = proxy.NewClient(); // the clock moves: a fresh connection each round
            await client.GetByteArrayAsync(proxy.Origin.Url($"{repository.Dists}/Release"));
            await client.GetByteArrayAsync(proxy.Origin.Url($"{repository.Dists}/main/binary-amd64/Packages"));
            await client.GetByteArrayAsync(proxy.Origin.Url(repository.UrlPathOf(repository.Packages[0])));
        }

        // A day on: the first expiry starts the clock of the file no index lists; a day later it goes.
        clock.Advance(TimeSpan.FromDays(1));
        await proxy.Server.Usage.FlushAsync().WaitAsync(TimeSpan.FromSeconds(20));
        Assert.True(File.Exists(proxy.CachedPath(old.UrlPathOf(old.Packages[0]))));
        clock.Advance(TimeSpan.FromDays(1));
        await proxy.Server.Usage.FlushAsync().WaitAsync(TimeSpan.FromSeconds(20));

        Assert.False(File.Exists(proxy.CachedPath(old.UrlPathOf(old.Packages[0]))));
        Assert.True(File.Exists(proxy.CachedPath(current.UrlPathOf(current.Packages[0]))));
        await proxy.Server.Usage.FlushAsync().WaitAsync(TimeSpan.FromSeconds(20));
        using var database = UsageDatabase.Open(proxy.Root, clock, readOnly: true);
        Assert.DoesNotContain(database.ReadFiles(), file => file.Path.EndsWith(old.Packages[0].Filename, StringComparison.Ordinal));
    }

    [Fact]
    public async Task UsageSurvivesARestart_OnTheSameRoot()
    {
        var root = Path.Combine(Path.GetTempPath(), "replicator-upkeep-" + Guid.NewGuid().ToString("N"));
        try
        {
            await using (var proxy = await ProxyFixture.StartAsync(s => s with { Root = root }))
            {
                proxy.Origin.Files["/f"] = new OriginFile("four"u8.ToArray(), CacheControl: "max-age=3600");
                await proxy.Client.GetByteArrayAsync(proxy.Origin.Url("/f"));
                await proxy.Client.GetByteArrayAsync(proxy.Origin.Url("/f"));
                await proxy.Client.GetByteArrayAsync(proxy.Origin.Url("/f"));
                Assert.Equal(["MISS", "HIT", "HIT"], await proxy.Accesses.OutcomesAsync(proxy.Origin.Url("/f"), 3));
            }

            // Stopped (the ledger writes what it recorded), then read by another process's view of the same root.
            using var database = UsageDatabase.Open(root, TimeProvider.System, readOnly: true);
            var file = Assert.Single(database.ReadFiles());
            // Bytes as sent to the clients, heads included.
            Assert.Equal((2L, 4L), (file.Hits, file.Size));
            Assert.InRange(file.BytesServed, 8, 2000);
            var host = Assert.Single(database.ReadHosts());
            Assert.Equal((2L, 1L, file.BytesServed), (host.Hits, host.Misses, host.BytesFromCache));
            Assert.InRange(host.BytesFromUpstream, 4, 1000);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public async Task Purge_FromAnAdminAddress_RemovesTheFile_AndTheNextRequestFetchesIt()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        proxy.Origin.Files["/p"] = new OriginFile("purge me"u8.ToArray(), CacheControl: "max-age=3600");
        await proxy.Client.GetByteArrayAsync(proxy.Origin.Url("/p"));
        Assert.True(File.Exists(proxy.CachedPath("/p")));

        var reply = await proxy.RawAsync($"PURGE {proxy.Origin.Url("/p")} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 200 ", reply, StringComparison.Ordinal);
        Assert.Contains("purged", reply, StringComparison.Ordinal);
        Assert.False(File.Exists(proxy.CachedPath("/p")));

        var again = await proxy.RawAsync($"PURGE {proxy.Origin.Url("/p")} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 404 ", again, StringComparison.Ordinal);

        Assert.Equal("purge me", await proxy.Client.GetStringAsync(proxy.Origin.Url("/p")));
        Assert.Equal(2, proxy.Origin.CountRequests("/p"));
    }

    [Fact]
    public async Task Purge_FromAnAddressNotInAdmin_IsRefused_AndNothingIsRemoved()
    {
        await using var proxy = await ProxyFixture.StartAsync(s => s with { Admin = Replicator.Proxy.ClientAccess.Parse(["10.0.0.0/8"]) });
        proxy.Origin.Files["/p"] = new OriginFile("keep me"u8.ToArray(), CacheControl: "max-age=3600");
        await proxy.Client.GetByteArrayAsync(proxy.Origin.Url("/p"));

        var reply = await proxy.RawAsync($"PURGE {proxy.Origin.Url("/p")} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");

        Assert.StartsWith("HTTP/1.1 403 ", reply, StringComparison.Ordinal);
        Assert.Contains("--admin", reply, StringComparison.Ordinal);
        Assert.True(File.Exists(proxy.CachedPath("/p")));
        Assert.Equal(HttpStatusCode.OK, (await proxy.Client.GetAsync(proxy.Origin.Url("/p"))).StatusCode);
        Assert.Equal(1, proxy.Origin.CountRequests("/p"));
    }
}
