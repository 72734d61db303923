using System.IO.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Replicator.Cache;
using Replicator.Cache.Upkeep;

namespace Replicator.Tests.Cache.Upkeep;

/// <summary>What the tree cannot hold, kept across restarts, and the size cap (issue 14).</summary>
public sealed class UsageLedgerTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "replicator-usage-" + Guid.NewGuid().ToString("N"));
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));

    public UsageLedgerTests() => Directory.CreateDirectory(_root);

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private CacheStore Store() => new(new FileSystem(), _root, _clock);

    private string Put(string path, int size, DateTime? lastWrite = null)
    {
        var full = Path.Combine(_root, path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        File.WriteAllBytes(full, new byte[size]);
        File.SetLastWriteTimeUtc(full, lastWrite ?? _clock.GetUtcNow().UtcDateTime);
        return full;
    }

    private async Task<UsageLedger> StartAsync(UpkeepOptions? options = null)
    {
        var ledger = new UsageLedger(Store(), options ?? new UpkeepOptions { Interval = Timeout.InfiniteTimeSpan }, _clock);
        await ledger.Ready.WaitAsync(TimeSpan.FromSeconds(20));
        return ledger;
    }

    private Dictionary<string, FileRecord> Records()
    {
        using var database = UsageDatabase.Open(_root, _clock, readOnly: true);
        return database.ReadFiles().ToDictionary(record => record.Path);
    }

    [Fact]
    public async Task HitsAndTotals_SurviveARestart()
    {
        Put("h:80/a.bin", 100);
        using (var ledger = await StartAsync())
        {
            ledger.Hit("h:80/a.bin", 100);
            _clock.Advance(TimeSpan.FromMinutes(1));
            ledger.Hit("h:80/a.bin", 40);
            ledger.Miss("h:80/other", 7);
        }

        using var again = await StartAsync();
        var record = Records()["h:80/a.bin"];
        Assert.Equal((2L, 140L, 100L), (record.Hits, record.BytesServed, record.Size));
        Assert.Equal(_clock.GetUtcNow().ToUnixTimeMilliseconds(), record.LastAccess);
        Assert.Equal([new HostRecord("h:80", 2, 1, 140, 7)], again.Hosts());
        Assert.Equal((1, 100L), (again.FileCount, again.TreeBytes));
    }

    [Fact]
    public async Task AFileAnotherProcessStored_CountsFromItsFirstHit()
    {
        Put("h:80/a.bin", 100);
        using var ledger = await StartAsync();

        // A mirror run on the same root stores a file after this proxy started; the proxy then serves it.
        Put("h:80/pool/m.deb", 300);
        ledger.Hit("h:80/pool/m.deb", 300);
        ledger.Hit("h:80/not-there", 5);
        await ledger.FlushAsync();

        Assert.Equal((2, 400L), (ledger.FileCount, ledger.TreeBytes));
        var record = Records()["h:80/pool/m.deb"];
        Assert.Equal((1L, 300L, 300L), (record.Hits, record.BytesServed, record.Size));
        Assert.DoesNotContain("h:80/not-there", Records().Keys);
    }

    [Fact]
    public async Task ADeletedDatabase_IsRebuiltFromTheTree_AndGoneFilesAreDropped()
    {
        Put("h:80/a.bin", 10);
        Put("https/s:443/b.bin", 20);
        var gone = Put("h:80/gone.bin", 30);
        using (var ledger = await StartAsync())
        {
            ledger.Hit("h:80/gone.bin", 30);
        }

        File.Delete(gone);
        using (var ledger = await StartAsync())
        {
            Assert.Equal(["h:80/a.bin", "https/s:443/b.bin"], Records().Keys.Order());
            Assert.Equal(30, ledger.TreeBytes);
        }

        foreach (var file in Directory.GetFiles(Path.Combine(_root, ".replicator"), "usage.db*"))
        {
            File.Delete(file);
        }

        using var rebuilt = await StartAsync();
        Assert.Equal(["h:80/a.bin", "https/s:443/b.bin"], Records().Keys.Order());
        Assert.Equal((2, 30L), (rebuilt.FileCount, rebuilt.TreeBytes));
    }

    [Fact]
    public async Task ADamagedDatabase_IsMovedAside_NeverACrash()
    {
        Put("h:80/a.bin", 10);
        Directory.CreateDirectory(Path.Combine(_root, ".replicator"));
        File.WriteAllText(Path.Combine(_root, ".replicator", UsageDatabase.FileName), "this is no database, it is a text file long enough to be read as one");

        using var ledger = await StartAsync();

        Assert.Single(Directory.GetFiles(Path.Combine(_root, ".replicator"), "usage.db.damaged-*"));
        Assert.Equal(["h:80/a.bin"], Records().Keys);
    }

    [Fact]
    public async Task OverTheCap_TheLeastRecentlyUsedGo_DownToTheLowWaterMark_ButNotOneBeingRead()
    {
        var start = _clock.GetUtcNow().UtcDateTime;
        Put("h:80/old.bin", 1000, start.AddHours(-4));
        Put("h:80/read.bin", 1000, start.AddHours(-3));
        Put("h:80/older-index/Packages", 1000, start.AddHours(-5));
        Put("h:80/new.bin", 1000, start.AddHours(-1));
        var options = new UpkeepOptions { MaxSize = 10_000, LowWater = 0.5, Interval = Timeout.InfiniteTimeSpan };
        using var ledger = await StartAsync(options);
        ledger.Stored("h:80/older-index/Packages", 1000, FileClass.Volatile);
        ledger.Hit("h:80/new.bin", 1);
        await ledger.FlushAsync().WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(0, ledger.Evictions);

        // A new 8 KB file passes the 10 KB cap: down to 5 KB, least recently used first, the index kept for last, and
        // the file being read left alone.
        using (ledger.Reading("h:80/read.bin"))
        {
            _clock.Advance(TimeSpan.FromMinutes(1));
            Put("h:80/big.bin", 8000);
            ledger.Stored("h:80/big.bin", 8000, FileClass.Other);
            await ledger.FlushAsync().WaitAsync(TimeSpan.FromSeconds(20));
        }

        Assert.False(File.Exists(Path.Combine(_root, "h:80/old.bin")));
        Assert.False(File.Exists(Path.Combine(_root, "h:80/new.bin")));
        Assert.False(File.Exists(Path.Combine(_root, "h:80/big.bin")));
        Assert.True(File.Exists(Path.Combine(_root, "h:80/read.bin")));
        Assert.True(File.Exists(Path.Combine(_root, "h:80/older-index/Packages")));
        Assert.Equal(3, ledger.Evictions);
        Assert.Equal(2000, ledger.TreeBytes);
        Assert.Equal(["h:80/older-index/Packages", "h:80/read.bin"], Records().Keys.Order());
    }

    [Fact]
    public async Task Disabled_ItNeitherWalksTheTreeNorWritesADatabase()
    {
        // What a mirror run uses: the proxy on the root keeps the usage, and adopts the mirror's files.
        Put("h:80/a.bin", 10);
        using var ledger = await StartAsync(new UpkeepOptions { Enabled = false });
        ledger.Hit("h:80/a.bin", 10);
        await ledger.FlushAsync().WaitAsync(TimeSpan.FromSeconds(20));

        Assert.Equal((0, 0L), (ledger.FileCount, ledger.TreeBytes));
        Assert.False(File.Exists(Path.Combine(_root, ".replicator", UsageDatabase.FileName)));
    }

    [Fact]
    public void HostOf_TakesTheFirstComponent_TwoForHttps()
    {
        Assert.Equal("h:80", UsageLedger.HostOf("h:80/a/b"));
        Assert.Equal("https/s:443", UsageLedger.HostOf("https/s:443/a"));
        Assert.Equal("lonely", UsageLedger.HostOf("lonely"));
    }
}
