using System.IO.Abstractions;
using System.IO.Abstractions.TestingHelpers;
using Replicator.Cache;
using Replicator.Http;

namespace Replicator.Tests.Cache;

/// <summary>
/// The cache's write protocol on a real directory (bodies are written through file handles): a partial is created
/// with its metadata, written, committed into the tree (fsync, metadata, rename) or abandoned, and resumed; and the
/// group commit: bodies completed while the disk flushes others are committed together, each exactly as one
/// committed alone, and a body the tree refuses, or that fails, costs the others nothing.
/// </summary>
public sealed class WriteProtocolTests : IDisposable
{
    private static readonly DateTimeOffset s_stamp = new(2024, 5, 6, 7, 8, 9, TimeSpan.Zero);
    private readonly string _root = Directory.CreateTempSubdirectory("replicator-store-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public async Task APartialBeingWritten_IsNotOpenedTwice_AcrossProcesses_AndIsFreeOnceCommitted()
    {
        // Two stores on one root stand for a proxy and a mirror run: flock(2) locks belong to each open file.
        var proxy = new CacheStore(new FileSystem(), _root);
        var mirror = new CacheStore(new FileSystem(), _root);
        var stored = Stored(length: 6);

        using (var partial = proxy.OpenPartial("h:80/pool/x.deb", stored, keep: 0))
        {
            partial.Write(0, "abc"u8);
            Assert.True(mirror.IsPartialBusy("h:80/pool/x.deb"));
            Assert.Throws<PartialBusyException>(() => mirror.OpenPartial("h:80/pool/x.deb", stored, keep: 0));
            Assert.Equal(0, mirror.DeleteAbandonedPartials(_ => false));
            partial.Write(3, "def"u8);
            Assert.True(await proxy.CommitAsync(partial, stored));

            // Committed while still open (its readers hold it): no lock stays on the body in the tree.
            Assert.Equal("abcdef", File.ReadAllText(Path.Combine(_root, "h:80/pool/x.deb")));
        }

        Assert.False(mirror.IsPartialBusy("h:80/pool/x.deb"));
        using var next = mirror.OpenPartial("h:80/pool/x.deb", stored, keep: 0);
    }

    [Fact]
    public async Task OpenWriteCommit_PutsTheWholeBodyInTheTree_WithItsMetadata_AndNoPartialStays()
    {
        var store = new CacheStore(new FileSystem(), _root);
        var stored = Stored(length: 6);

        using (var partial = store.OpenPartial("h:80/pool/x.deb", stored, keep: 0))
        {
            partial.Write(0, "abc"u8);
            partial.Write(3, "def"u8);
            Assert.True(await store.CommitAsync(partial, stored));
        }

        Assert.Equal("abcdef", File.ReadAllText(Path.Combine(_root, "h:80/pool/x.deb")));
        Assert.Equal(s_stamp.UtcDateTime, File.GetLastWriteTimeUtc(Path.Combine(_root, "h:80/pool/x.deb")));
        Assert.True(File.Exists(Path.Combine(_root, ".replicator/meta/h:80/pool/x.deb")));
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(_root, ".replicator/partial"), "*", SearchOption.AllDirectories));
        var entry = new CacheStore(new FileSystem(), _root).Lookup("h:80/pool/x.deb")!;
        Assert.False(entry.Response.Synthesized);
        Assert.Equal("\"e1\"", entry.Response.ETag);
    }

    [Fact]
    public async Task AnInterruptedPartial_IsFoundResumable_AndReopenedKeepingItsBytes()
    {
        var store = new CacheStore(new FileSystem(), _root);
        var stored = Stored(length: CacheStore.ResumableAbove + 6);
        using (var partial = store.OpenPartial("h:80/x", stored, keep: 0))
        {
            partial.Write(0, "abcd"u8);
        }

        var (length, response) = store.FindResumable("h:80/x")!.Value;
        Assert.Equal(4, length);
        Assert.Equal("\"e1\"", response.ETag);

        using (var resumed = store.OpenPartial("h:80/x", stored, keep: 2))
        {
            resumed.Write(2, "CDEF"u8);
            Assert.True(await store.CommitAsync(resumed, stored));
        }

        Assert.Equal("abCDEF", File.ReadAllText(Path.Combine(_root, "h:80/x")));
    }

    [Theory]
    [InlineData("h:80/../../outside.deb")]
    [InlineData("/etc/outside.deb")]
    [InlineData("h:80/./x.deb")]
    public void Adopt_NeverWritesOutsideTheTree(string relativePath)
    {
        var store = new CacheStore(new FileSystem(), _root);
        var source = Path.Combine(_root, "..", "source-" + Guid.NewGuid().ToString("N"));
        File.WriteAllText(source, "package");
        try
        {
            Assert.False(store.Adopt(relativePath, source));
            Assert.False(File.Exists(Path.GetFullPath(Path.Combine(_root, "..", "outside.deb"))));
        }
        finally
        {
            File.Delete(source);
        }
    }

    [Fact]
    public void ASmallPartial_HasNoMetadata_AndIsFetchedAgainWholeRatherThanResumed()
    {
        // A mirror of many small files creates one file less per file (the partial's metadata, fsynced and renamed).
        var store = new CacheStore(new FileSystem(), _root);
        using (var partial = store.OpenPartial("h:80/small", Stored(length: CacheStore.ResumableAbove), keep: 0))
        {
            partial.Write(0, "abcd"u8);
        }

        Assert.False(File.Exists(Path.Combine(_root, ".replicator/partial/h:80/small%meta")));
        Assert.Null(store.FindResumable("h:80/small"));
    }

    [Fact]
    public void Discard_RemovesThePartialAndItsMetadata_AndTheHandleStillReads()
    {
        var store = new CacheStore(new FileSystem(), _root);
        using var partial = store.OpenPartial("h:80/gone", Stored(length: 3), keep: 0);
        partial.Write(0, "xyz"u8);

        store.Discard(partial);

        Assert.Null(store.FindResumable("h:80/gone"));
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(_root, ".replicator/partial"), "*", SearchOption.AllDirectories));
        var read = new byte[3];
        Assert.Equal(3, RandomAccess.Read(partial.Handle, read, 0));
    }

    [Fact]
    public async Task Commit_WhereADirectoryStands_IsRefusedAndTouchesNothing()
    {
        var store = new CacheStore(new FileSystem(), _root);
        Directory.CreateDirectory(Path.Combine(_root, "h:80/dir/inside"));
        using var partial = store.OpenPartial("h:80/dir", Stored(length: 1), keep: 0);
        partial.Write(0, "d"u8);

        Assert.False(await store.CommitAsync(partial, Stored(length: 1)));
        Assert.True(Directory.Exists(Path.Combine(_root, "h:80/dir/inside")));
    }

    [Fact]
    public void ListHosts_NamesTheHostDirectories_NotThePrivateOne()
    {
        var fs = new MockFileSystem();
        fs.AddDirectory("/cache/b.org:80");
        fs.AddDirectory("/cache/a.org:8080");
        fs.AddDirectory("/cache/.replicator/meta");

        Assert.Equal(["a.org:8080", "b.org:80"], new CacheStore(fs, "/cache").ListHosts());
        Assert.Empty(new CacheStore(new MockFileSystem(), "/nothing").ListHosts());
    }

    [Fact]
    public async Task ALargeBody_GoesAroundThePageCache_ByteExact_WhateverItsPieces_AndResumesAtAnyOffset()
    {
        var store = new CacheStore(new FileSystem(), _root) { DirectWriteAbove = 64 << 10 };
        var body = TestBodies.Random(13, (3 << 20) + 1234);
        var stored = Stored(body.Length);
        var pieces = new Random(13);
        const int Cut = 5000; // an earlier download stopped here, mid-block

        using (var first = store.OpenPartial("h:80/iso/big.iso", stored, keep: 0))
        {
            Assert.NotNull(first.Direct);
            first.Write(0, body.AsSpan(0, Cut));
        }

        using (var partial = store.OpenPartial("h:80/iso/big.iso", stored, keep: Cut))
        {
            for (var offset = Cut; offset < body.Length;)
            {
                // Pieces as the network gives them: tiny ones, ones inside a block, runs of many blocks.
                var length = Math.Min(body.Length - offset, pieces.Next(3) switch { 0 => pieces.Next(1, 100), 1 => pieces.Next(100, 9000), _ => pieces.Next(9000, 700_000) });
                partial.Write(offset, body.AsSpan(offset, length));
                offset += length;
            }

            if (DirectWritesWork(_root))
            {
                Assert.True(partial.Direct!.IsDirect);
                Assert.InRange(partial.Direct.DirectBytes, body.Length / 2, body.Length);
            }

            Assert.True(await store.CommitAsync(partial, stored));
        }

        Assert.Equal(body, File.ReadAllBytes(Path.Combine(_root, "h:80/iso/big.iso")));
    }

    [Fact]
    public void ABodyBelowTheDirectSize_GoesThroughThePageCache()
    {
        var store = new CacheStore(new FileSystem(), _root) { DirectWriteAbove = 64 << 10 };
        using var partial = store.OpenPartial("h:80/small", Stored(length: (64 << 10) - 1), keep: 0);
        Assert.Null(partial.Direct);
        using var unknown = store.OpenPartial("h:80/chunked", Stored(length: -1), keep: 0);
        Assert.Null(unknown.Direct);
    }

    /// <summary>
    /// Whether the file system under <paramref name="directory"/> takes O_DIRECT (tmpfs before Linux 6.6 does not),
    /// asked the way the store asks it: by a <see cref="DirectWriter"/> on an open file.
    /// </summary>
    private static bool DirectWritesWork(string directory)
    {
        var probe = Path.Combine(directory, "direct-probe");
        try
        {
            using var handle = File.OpenHandle(probe, FileMode.Create, FileAccess.ReadWrite);
            using var writer = new DirectWriter(handle);
            return writer.IsDirect;
        }
        finally
        {
            File.Delete(probe);
        }
    }

    [Fact]
    public async Task CommitsArrivingWhileOneIsFlushed_GoTogether_InTheNextBatch()
    {
        var store = new CacheStore(new FileSystem(), _root);
        var batches = new List<int>();
        using var firstEntered = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        store.BeforeCommitBatch = size =>
        {
            lock (batches)
            {
                batches.Add(size);
            }

            firstEntered.Set();
            release.Wait(RawClient.ReadBound);
        };

        var partials = Enumerable.Range(0, 6).Select(i => Written(store, $"h:80/d{i % 2}/f{i}", $"body {i}")).ToList();
        try
        {
            var first = store.CommitAsync(partials[0], Stored(partials[0]));
            Assert.True(firstEntered.Wait(RawClient.ReadBound));
            var rest = partials.Skip(1).Select(partial => store.CommitAsync(partial, Stored(partial))).ToList();
            release.Set();

            Assert.True(await first.WaitAsync(RawClient.ReadBound));
            Assert.All(await Task.WhenAll(rest).WaitAsync(RawClient.ReadBound), Assert.True);
        }
        finally
        {
            partials.ForEach(partial => partial.Dispose());
        }

        Assert.Equal([1, 5], batches);
        for (var i = 0; i < 6; i++)
        {
            var body = Path.Combine(_root, $"h:80/d{i % 2}/f{i}");
            Assert.Equal($"body {i}", File.ReadAllText(body));
            Assert.Equal(s_stamp.UtcDateTime, File.GetLastWriteTimeUtc(body));
            var entry = new CacheStore(new FileSystem(), _root).Lookup($"h:80/d{i % 2}/f{i}")!;
            Assert.False(entry.Response.Synthesized);
        }

        Assert.DoesNotContain(Directory.EnumerateFiles(Path.Combine(_root, ".replicator"), "*", SearchOption.AllDirectories), path => !path.Contains("/meta/", StringComparison.Ordinal));
        Assert.Equal(6, Directory.EnumerateFiles(Path.Combine(_root, ".replicator/meta"), "*", SearchOption.AllDirectories).Count());
    }

    [Fact]
    public async Task ABatch_RefusesTheBodyTheTreeBlocks_AndCommitsTheOthers()
    {
        var store = new CacheStore(new FileSystem(), _root);
        File.WriteAllText(Path.Combine(Directory.CreateDirectory(Path.Combine(_root, "h:80")).FullName, "file"), "kept");
        var blocked = Written(store, "h:80/file/below", "x");
        var one = Written(store, "h:80/a", "one");
        var two = Written(store, "h:80/b", "two");
        var batch = new[] { blocked, one, two }.Select(partial => new PendingCommit(partial, Stored(partial))).ToList();
        try
        {
            store.CommitBatch(batch);
        }
        finally
        {
            new[] { blocked, one, two }.ToList().ForEach(partial => partial.Dispose());
        }

        var results = await Task.WhenAll(batch.Select(pending => pending.Done.Task));
        Assert.Equal([false, true, true], results);
        Assert.Equal("kept", File.ReadAllText(Path.Combine(_root, "h:80/file")));
        Assert.Equal("one", File.ReadAllText(Path.Combine(_root, "h:80/a")));
        Assert.Equal("two", File.ReadAllText(Path.Combine(_root, "h:80/b")));
        Assert.Empty(store.EnumeratePartials());
    }

    [Fact]
    public async Task ABodyWhosePartialVanished_FailsAlone_AndLeavesNoMetadataBehind()
    {
        var store = new CacheStore(new FileSystem(), _root);
        var lost = Written(store, "h:80/lost", "lost");
        var kept = Written(store, "h:80/kept", "kept");
        File.Delete(lost.Path); // removed behind the store's back (by hand, or by a cleanup): its commit fails
        var batch = new[] { lost, kept }.Select(partial => new PendingCommit(partial, Stored(partial))).ToList();
        try
        {
            store.CommitBatch(batch);
        }
        finally
        {
            lost.Dispose();
            kept.Dispose();
        }

        await Assert.ThrowsAnyAsync<IOException>(() => batch[0].Done.Task);
        Assert.True(await batch[1].Done.Task);
        Assert.False(File.Exists(Path.Combine(_root, "h:80/lost")));
        Assert.Equal("kept", File.ReadAllText(Path.Combine(_root, "h:80/kept")));
        Assert.Equal(["kept"], Directory.EnumerateFiles(Path.Combine(_root, ".replicator/meta/h:80")).Select(Path.GetFileName));
    }

    private static PartialBody Written(CacheStore store, string relativePath, string body)
    {
        var bytes = System.Text.Encoding.ASCII.GetBytes(body);
        var partial = store.OpenPartial(relativePath, Stored(bytes.Length), keep: 0);
        partial.Write(0, bytes);
        return partial;
    }

    private static StoredResponse Stored(PartialBody partial) => Stored(RandomAccess.GetLength(partial.Handle));

    private static StoredResponse Stored(long length)
    {
        var headers = new HttpHeaders();
        headers.Add("ETag", "\"e1\"");
        headers.Add("Content-Type", "application/octet-stream");
        return new StoredResponse { Headers = headers, RequestTime = s_stamp, ResponseTime = s_stamp, Length = length, BodyStamp = s_stamp };
    }
}
