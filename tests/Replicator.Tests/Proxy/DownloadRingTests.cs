using Replicator.Proxy;

namespace Replicator.Tests.Proxy;

/// <summary>The memory a download's clients are fed from while the file is written behind them (issue 13).</summary>
public sealed class DownloadRingTests
{
    [Fact]
    public void Appends_WrapAround_AndReadsGiveContiguousRuns_FromTheFloor()
    {
        var ring = new DownloadRing(start: 1000, expected: 1);
        var capacity = ring.Capacity;
        var body = TestBodies.Random(5, 3 * capacity + 123);

        ring.Append(body.AsSpan(0, capacity - 10));
        Assert.Equal(1000, ring.Floor);
        Assert.Equal(1000 + capacity - 10, ring.End);

        // 30 more bytes: 10 fit before the end of the memory, 20 overwrite the oldest.
        ring.Append(body.AsSpan(capacity - 10, 30));
        Assert.Equal(1000 + 20, ring.Floor);
        var run = ring.Read(1020, long.MaxValue);
        Assert.Equal(body.AsSpan(20, run.Length).ToArray(), run.ToArray());
        Assert.True(1020 + run.Length < ring.End, "a run stops where the memory wraps");
        var rest = ring.Read(1020 + run.Length, long.MaxValue);
        Assert.Equal(body.AsSpan(20 + run.Length, rest.Length).ToArray(), rest.ToArray());
        Assert.Equal(ring.End, 1020 + run.Length + rest.Length);

        Assert.Equal(body.AsSpan(100, 7).ToArray(), ring.Read(1100, 7).ToArray());
        Assert.Throws<ArgumentOutOfRangeException>(() => ring.Read(1019, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => ring.Read(ring.End + 1, 1));
        Assert.True(ring.Read(ring.End, 10).IsEmpty);
        ring.GiveBack();
    }

    [Theory]
    [InlineData(100L, 64 << 10)]
    [InlineData(3L << 20, 3 << 20)]
    [InlineData(1L << 40, DownloadRing.MaxCapacity)]
    [InlineData(null, DownloadRing.MaxCapacity)]
    public void Capacity_FollowsTheBodysLength_WithinBounds(long? expected, int least)
    {
        var ring = new DownloadRing(0, expected);
        Assert.InRange(ring.Capacity, least, Math.Max(least, DownloadRing.MaxCapacity) * 2);
        ring.GiveBack();
    }

    [Fact]
    public void GivenBack_ItCannotBeRead()
    {
        var ring = new DownloadRing(0, 10);
        ring.Append([1, 2, 3]);
        ring.GiveBack();
        Assert.Throws<ObjectDisposedException>(() => ring.Read(0, 3));
    }
}
