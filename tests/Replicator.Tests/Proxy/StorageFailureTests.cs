using System.Net;
using Microsoft.Extensions.Time.Testing;
using Replicator.Cache;

namespace Replicator.Tests.Proxy;

/// <summary>
/// A cache that cannot be written (issue 9): a full disk and a read-only root, on a real tmpfs. No client loses
/// its answer, nothing torn or temporary stays in the tree, and the proxy stores again once it can.
/// </summary>
public sealed class StorageFailureTests
{
    [Theory]
    [InlineData(0)] // through the page cache
    [InlineData(64 << 10)] // around it (O_DIRECT): the full disk refuses a direct write
    public async Task DiskFillsDuringADownload_TheClientGetsTheWholeBody_NothingStays_AndStoringResumesWhenSpaceIsBack(long directWriteAbove)
    {
        using var disk = SmallDisk.TryMount("1m");
        if (disk is null)
        {
            return; // not root: no tmpfs to fill (CI runs as root)
        }

        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var proxy = await ProxyFixture.StartAsync(s => s with { Root = Path.Combine(disk.Path, "cache"), DirectWriteAbove = directWriteAbove }, clock);
        var big = new byte[3 * 1024 * 1024];
        new Random(9).NextBytes(big);
        proxy.Origin.Files["/big.deb"] = new OriginFile(big, CacheControl: "max-age=600");
        proxy.Origin.Files["/small"] = new OriginFile("small"u8.ToArray(), CacheControl: "max-age=600");

        // A download abandoned earlier: its partial is given up to free space.
        var abandoned = Path.Combine(proxy.Root, ".replicator", "partial", $"127.0.0.1:{proxy.Origin.Port}", "abandoned.deb");
        Directory.CreateDirectory(Path.GetDirectoryName(abandoned)!);
        File.WriteAllBytes(abandoned, new byte[200 * 1024]);

        Assert.Equal(big, await proxy.Client.GetByteArrayAsync(proxy.Origin.Url("/big.deb")));
        Assert.DoesNotContain(disk.Files(), file => file.Contains("big.deb", StringComparison.Ordinal));
        Assert.False(File.Exists(abandoned));
        Assert.DoesNotContain(disk.Files(), file => file.Contains("%meta.new", StringComparison.Ordinal));

        // While the pause lasts, misses pass through uncached and are answered.
        Assert.Equal(big, await proxy.Client.GetByteArrayAsync(proxy.Origin.Url("/big.deb")));
        Assert.Equal("small", await proxy.Client.GetStringAsync(proxy.Origin.Url("/small")));
        Assert.False(File.Exists(proxy.CachedPath("/small")));

        disk.Resize("16m");
        clock.Advance(StorageHealth.Pause);
        // A new client: moving the clock ended the idle keep-alive connections of the first.
        using var later = proxy.NewClient();
        Assert.Equal(big, await later.GetByteArrayAsync(proxy.Origin.Url("/big.deb")));
        Assert.Equal(big, File.ReadAllBytes(proxy.CachedPath("/big.deb")));
        Assert.Equal(3, proxy.Origin.CountRequests("/big.deb"));
        // Served whole while the disk was full (a MISS not stored), passed through during the pause, stored after.
        Assert.Equal(["MISS", "PASS", "MISS"], await proxy.Accesses.OutcomesAsync(proxy.Origin.Url("/big.deb"), 3));
    }

    [Fact]
    public async Task DiskAlreadyFull_EveryMissIsPassedThrough()
    {
        using var disk = SmallDisk.TryMount("64k");
        if (disk is null)
        {
            return;
        }

        File.WriteAllBytes(Path.Combine(disk.Path, "filler"), new byte[64 * 1024]);
        await using var proxy = await ProxyFixture.StartAsync(s => s with { Root = Path.Combine(disk.Path, "cache") });
        proxy.Origin.Files["/a"] = new OriginFile("answered"u8.ToArray(), CacheControl: "max-age=600");

        for (var i = 0; i < 3; i++)
        {
            Assert.Equal("answered", await proxy.Client.GetStringAsync(proxy.Origin.Url("/a")));
        }

        Assert.DoesNotContain(disk.Files(), file => file.Contains("%meta.new", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ReadOnlyRoot_CachedFilesAreServedAndRevalidated_MissesPassThrough()
    {
        using var disk = SmallDisk.TryMount("4m");
        if (disk is null)
        {
            return;
        }

        var stamp = new DateTimeOffset(2024, 1, 2, 3, 4, 5, TimeSpan.Zero);
        await using var proxy = await ProxyFixture.StartAsync(s => s with { Root = Path.Combine(disk.Path, "cache") });
        proxy.Origin.Files["/stale"] = new OriginFile("kept"u8.ToArray(), CacheControl: "max-age=0", ETag: "\"v1\"", LastModified: stamp);
        proxy.Origin.Files["/new"] = new OriginFile("fresh from the origin"u8.ToArray(), CacheControl: "max-age=600");
        Assert.Equal("kept", await proxy.Client.GetStringAsync(proxy.Origin.Url("/stale")));
        Assert.True(File.Exists(proxy.CachedPath("/stale")));

        disk.ReadOnly();

        using var revalidated = await proxy.Client.GetAsync(proxy.Origin.Url("/stale"));
        Assert.Equal(HttpStatusCode.OK, revalidated.StatusCode);
        Assert.Equal("kept", await revalidated.Content.ReadAsStringAsync());
        Assert.Equal("fresh from the origin", await proxy.Client.GetStringAsync(proxy.Origin.Url("/new")));
        Assert.Equal("fresh from the origin", await proxy.Client.GetStringAsync(proxy.Origin.Url("/new")));
        Assert.Equal(2, proxy.Origin.CountRequests("/new"));
        Assert.Equal(["MISS", "REVALIDATED"], await proxy.Accesses.OutcomesAsync(proxy.Origin.Url("/stale"), 2));
        Assert.Equal(["PASS", "PASS"], await proxy.Accesses.OutcomesAsync(proxy.Origin.Url("/new"), 2));
    }
}
