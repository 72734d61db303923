using Microsoft.Extensions.Time.Testing;
using Replicator.Cache;

namespace Replicator.Tests.Cache;

/// <summary>Bodies kept in memory (mapped or copied), on real files: sharing, replacement, budgets, letting go when idle.</summary>
public sealed class KeptBodiesTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("replicator-mapped-").FullName;
    private readonly FakeTimeProvider _clock = new();

    public KeptBodiesTests()
    {
        Tree = new TreeReader(_directory);
    }

    private TreeReader Tree { get; }

    public void Dispose()
    {
        Tree.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public void Lease_MapsTheFile_AndASecondLeaseSharesTheMapping()
    {
        var bodies = MappedBody.Keeper(_clock, Tree, CacheOptions.Defaults.MappedBodyBudget);
        var (path, bytes) = Write("a", 200_000, seed: 1);

        using var first = bodies.Lease(path)!;
        using var second = bodies.Lease(path)!;

        Assert.Same(first, second);
        Assert.Equal(bytes, first.Window(0, bytes.Length).ToArray());
        Assert.Equal(bytes.AsSpan(150_000, 10).ToArray(), first.Window(150_000, 10).ToArray());
        Assert.Equal(1, bodies.Count);
        Assert.Throws<ArgumentOutOfRangeException>(() => first.Window(199_999, 2));
    }

    [Fact]
    public void BodyReplacedByRename_IsMappedAfresh_WhileAnOldLeaseKeepsTheOldBytes()
    {
        var bodies = MappedBody.Keeper(_clock, Tree, CacheOptions.Defaults.MappedBodyBudget);
        var (path, old) = Write("a", 100_000, seed: 1);
        using var before = bodies.Lease(path)!;

        var (next, fresh) = Write("a.next", 100_000, seed: 2);
        File.Move(next, path, overwrite: true);
        using var after = bodies.Lease(path)!;

        Assert.NotSame(before, after);
        Assert.Equal(old, before.Window(0, old.Length).ToArray());
        Assert.Equal(fresh, after.Window(0, fresh.Length).ToArray());
        Assert.Equal(1, bodies.Count);
    }

    [Fact]
    public void MissingBody_Throws_AndEmptyOrOversizedBodies_AreNotMapped()
    {
        var bodies = MappedBody.Keeper(_clock, Tree, byteBudget: 400_000);
        var (empty, _) = Write("empty", 0, seed: 0);
        var (big, _) = Write("big", 100_001, seed: 3);
        var (fits, _) = Write("fits", 100_000, seed: 4);

        Assert.Throws<FileNotFoundException>(() => { bodies.Lease(Path.Combine(_directory, "none")); });
        Assert.Throws<FileNotFoundException>(() => { bodies.Lease(Path.Combine(fits, "under-a-file")); });
        Assert.Null(bodies.Lease(empty));
        Assert.Null(bodies.Lease(big));
        using var mapped = bodies.Lease(fits);
        Assert.NotNull(mapped);
    }

    [Fact]
    public void OverTheCountBudget_TheLeastRecentlyLeasedGoes_ButStaysReadableWhileLeased()
    {
        var bodies = MappedBody.Keeper(_clock, Tree, CacheOptions.Defaults.MappedBodyBudget, countBudget: 2);
        var (a, aBytes) = Write("a", 10_000, seed: 1);
        var (b, _) = Write("b", 10_000, seed: 2);
        var (c, _) = Write("c", 10_000, seed: 3);

        var held = bodies.Lease(a)!;
        bodies.Lease(b)!.Dispose();
        bodies.Lease(c)!.Dispose();

        Assert.Equal(2, bodies.Count);
        Assert.Equal(aBytes, held.Window(0, aBytes.Length).ToArray());
        held.Dispose();
        using var again = bodies.Lease(a);
        Assert.NotSame(held, again);
    }

    [Fact]
    public void IdleMappings_AreLetGo_LeasedOnesAreKept()
    {
        var bodies = MappedBody.Keeper(_clock, Tree, CacheOptions.Defaults.MappedBodyBudget, idleAfter: TimeSpan.FromSeconds(30));
        var (a, _) = Write("a", 10_000, seed: 1);
        var (b, _) = Write("b", 10_000, seed: 2);
        bodies.Lease(a)!.Dispose();
        using var held = bodies.Lease(b)!;

        _clock.Advance(TimeSpan.FromSeconds(20));
        Assert.Equal(2, bodies.Count);
        _clock.Advance(TimeSpan.FromSeconds(20));
        Assert.Equal(1, bodies.Count);
        _clock.Advance(TimeSpan.FromMinutes(5));
        Assert.Equal(1, bodies.Count);
        using var again = bodies.Lease(b);
        Assert.Same(held, again);
    }

    [Fact]
    public void CopiedBody_HoldsTheBytes_IsCopiedAfreshWhenReplaced_AndTheByteBudgetHolds()
    {
        var bodies = CopiedBody.Keeper(_clock, Tree, largest: 1000, byteBudget: 2500);
        var (a, aBytes) = Write("a", 1000, seed: 1);
        var (b, _) = Write("b", 1000, seed: 2);
        var (c, _) = Write("c", 1000, seed: 3);
        var (big, _) = Write("big", 1001, seed: 4);

        using (var first = bodies.Lease(a)!)
        {
            Assert.Equal(aBytes, first.Bytes.ToArray());
        }

        var (next, fresh) = Write("a.next", 1000, seed: 5);
        File.Move(next, a, overwrite: true);
        using (var replaced = bodies.Lease(a)!)
        {
            Assert.Equal(fresh, replaced.Bytes.ToArray());
        }

        bodies.Lease(b)!.Dispose();
        bodies.Lease(c)!.Dispose();
        Assert.Equal(2, bodies.Count);
        Assert.Null(bodies.Lease(big));
    }

    private (string Path, byte[] Bytes) Write(string name, int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        var path = Path.Combine(_directory, name);
        File.WriteAllBytes(path, bytes);
        return (path, bytes);
    }
}
