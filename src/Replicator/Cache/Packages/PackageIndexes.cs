using System.Collections.Concurrent;
using System.Security.Cryptography;
using Microsoft.Win32.SafeHandles;
using Serilog;

namespace Replicator.Cache.Packages;

/// <summary>What a repository's own indexes say a file must be: its size (null: unknown) and SHA256, and who says so.</summary>
/// <param name="Name">The listed file's name when it is itself an index (Packages.xz...), so that its by-hash copy is read as one.</param>
internal sealed record Expectation(long? Size, string Sha256, string Source, string? Name = null);

/// <summary>A body that does not match what the repository's indexes say of it.</summary>
internal sealed class UnverifiedBodyException(string message) : IOException(message);

/// <summary>
/// Why: a mirror in the middle of a sync, a broken transparent proxy or a flipped bit serves bytes that are not the
/// package the indexes name, and apt's "Hash Sum mismatch" then comes back from the cache on every machine of the
/// LAN. A Debian repository says what each file must be: its InRelease lists every index with size and SHA256, and
/// each Packages/Sources index lists every package file. This catalog learns those lists from the indexes stored in
/// the tree (after each is stored, and the first time one is served after a start), and answers what a file being
/// downloaded must be; a by-hash file must hash to its own name. Keys are natural cache paths (host:port/path).
/// The tree stays the source of truth: this is memory only, learnt again after a restart.
/// </summary>
internal sealed class PackageIndexes
{
    /// <summary>How long a commit waits for indexes still being read (a Packages index read just before its packages).</summary>
    private static readonly TimeSpan s_settleTimeout = TimeSpan.FromSeconds(30);

    private readonly ConcurrentDictionary<string, Expectation> _expected = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, (long Length, DateTimeOffset Stamp)> _learnt = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<Task, byte> _pending = new();

    /// <summary>What <paramref name="key"/> must be, or null when no index says (a by-hash name says for itself).</summary>
    public Expectation? Expect(string key)
    {
        if (_expected.TryGetValue(key, out var expected))
        {
            return expected;
        }

        // .../by-hash/SHA256/<64 hex digits>: the name is the hash (the other algorithms are not checked).
        const string Marker = "/by-hash/SHA256/";
        var marker = key.LastIndexOf(Marker, StringComparison.Ordinal);
        var digest = marker < 0 ? string.Empty : key[(marker + Marker.Length)..];
        return digest.Length == 64 && digest.All(char.IsAsciiHexDigit) ? new Expectation(null, digest.ToLowerInvariant(), "its by-hash name") : null;
    }

    /// <summary>The kind of index <paramref name="key"/> is (by its name, or by what its Release says of its by-hash copy), or null.</summary>
    public (IndexKind Kind, string Name)? IndexOf(string key)
    {
        if (DebianIndex.KindOf(DebianIndex.NameOf(key)) is { } kind)
        {
            return (kind, DebianIndex.NameOf(key).ToString());
        }

        return _expected.TryGetValue(key, out var expected) && expected.Name is { } listed && DebianIndex.KindOf(listed) is { } listedKind
            ? (listedKind, listed)
            : null;
    }

    /// <summary>Whether what is known now describes <paramref name="key"/>: a file an index lists, or an index itself.</summary>
    public bool Describes(string key) => Expect(key) is not null || IndexOf(key) is not null;

    /// <summary>
    /// Checks a complete body against what is expected of <paramref name="key"/>, waiting (bounded) for indexes still
    /// being read. Returns its SHA256 when it was computed (an expected file, or an index), null when nothing is
    /// known of it; throws <see cref="UnverifiedBodyException"/> when it does not match. Blocking: off the loops.
    /// </summary>
    /// <param name="mayBeListed">Whether an index may describe the file (a package or an index by its name): only then is
    /// an index still being read waited for; any other download is checked against what is known now.</param>
    public string? Verify(string key, SafeFileHandle body, long length, bool mayBeListed)
    {
        if (mayBeListed)
        {
            WaitSettled();
        }

        if (!Describes(key))
        {
            return null;
        }

        var expected = Expect(key);
        var sha256 = Sha256Of(body, length);
        if (expected is not null && (sha256 != expected.Sha256 || (expected.Size is { } size && size != length)))
        {
            throw new UnverifiedBodyException(
                $"{key} ({length} bytes, SHA256 {sha256}) does not match {expected.Source} ({(expected.Size is { } s ? $"{s} bytes, " : string.Empty)}SHA256 {expected.Sha256})");
        }

        return sha256;
    }

    /// <summary>Whether the stored copy of an index is not the one the newest Release lists (another generation).</summary>
    public bool IsOutOfStep(string key, StoredResponse stored) =>
        _expected.TryGetValue(key, out var expected) && stored.Sha256 is { } sha256 && sha256 != expected.Sha256;

    /// <summary>
    /// Reads an index stored in the tree into the catalog, in the background, unless this very file (length and
    /// time stamp) was read already. <paramref name="open"/> opens the stored body.
    /// </summary>
    public void Learn(string key, long length, DateTimeOffset stamp, Func<SafeFileHandle> open)
    {
        if (_learnt.TryGetValue(key, out var seen) && seen == (length, stamp))
        {
            return;
        }

        // A package file or a page is no index: nothing more to do (this runs on package hits). A by-hash file is an
        // index only by what its Release says, which may still be being read: it waits for that reading.
        var named = IndexOf(key) is not null;
        if (!named && !key.Contains("/by-hash/", StringComparison.Ordinal))
        {
            return;
        }

        Task[] earlier = named ? [] : [.. _pending.Keys];
        if (!named && earlier.Length == 0)
        {
            return;
        }

        _learnt[key] = (length, stamp);
        var task = Task.Run(() =>
        {
            if (earlier.Length > 0)
            {
                Task.WaitAll(earlier, s_settleTimeout);
            }

            if (IndexOf(key) is { } index)
            {
                Read(key, index.Kind, index.Name, open);
            }
            else
            {
                _learnt.TryRemove(key, out _);
            }
        });
        Interlocked.Increment(ref _learning);
        _pending.TryAdd(task, 0);
        task.ContinueWith(done =>
        {
            _pending.TryRemove(done, out _);
            Interlocked.Decrement(ref _learning);
        }, TaskScheduler.Default);
    }

    /// <summary>
    /// Reads every Release, Packages and Sources index stored in the tree and waits until all are read (the maintenance
    /// commands, which see the whole tree at once).
    /// </summary>
    public void LearnTree(CacheStore store)
    {
        foreach (var (path, length, lastWrite) in store.EnumerateBodies())
        {
            if (IndexOf(path) is not null)
            {
                var body = store.BodyPath(path);
                Learn(path, length, new DateTimeOffset(lastWrite, TimeSpan.Zero), () => store.Tree.OpenForReading(body));
            }
        }

        WaitSettled();
    }

    /// <summary>Every file the indexes read so far list, with what it must be (by-hash names left out: they say it themselves).</summary>
    public IEnumerable<(string Key, Expectation Expected)> Listed() =>
        _expected.Where(pair => !pair.Key.Contains("/by-hash/", StringComparison.Ordinal)).Select(pair => (pair.Key, pair.Value));

    /// <summary>The SHA256 of a stored body, as hex (lower case), read off the loops.</summary>
    public static string Sha256Of(SafeFileHandle body) => Sha256Of(body, RandomAccess.GetLength(body));

    /// <summary>How many indexes are being read now (a counter: asking a concurrent dictionary if it is empty locks it whole).</summary>
    private int _learning;

    /// <summary>Whether an index is being read now (a download deciding what it expects waits for it first).</summary>
    public bool IsLearning => Volatile.Read(ref _learning) > 0;

    /// <summary>Waits (bounded) until the indexes being read have been; true (a shape for <c>RunBlockingAsync</c>).</summary>
    public bool WaitSettled()
    {
        if (IsLearning)
        {
            Task.WaitAll([.. _pending.Keys], s_settleTimeout);
        }

        return true;
    }

    private void Read(string key, IndexKind kind, string name, Func<SafeFileHandle> open)
    {
        try
        {
            using var handle = open();
            using var file = new FileStream(handle, FileAccess.Read, bufferSize: 1 << 16);
            using var text = new StreamReader(DebianIndex.Decompressed(file, name));
            var (baseDirectory, count) = (BaseOf(key, kind), 0);
            var byHash = key.LastIndexOf("/by-hash/", StringComparison.Ordinal);
            var source = byHash < 0 ? key : $"{key[..byHash]}/{name} (by hash)";
            foreach (var listed in DebianIndex.Read(kind, text))
            {
                if (listed.Path.StartsWith('/') || listed.Path.Split('/').Contains(".."))
                {
                    continue; // a file an index names outside its repository: not ours to expect
                }

                var path = baseDirectory + "/" + listed.Path;
                var listedFile = DebianIndex.NameOf(listed.Path);
                var listedName = kind == IndexKind.Release && DebianIndex.KindOf(listedFile) is not null ? listedFile.ToString() : null;
                _expected[path] = new Expectation(listed.Size, listed.Sha256, source, listedName);
                if (kind == IndexKind.Release)
                {
                    // apt fetches indexes by hash when the Release says Acquire-By-Hash: the copy is the same file.
                    var directory = path[..path.LastIndexOf('/')];
                    _expected[$"{directory}/by-hash/SHA256/{listed.Sha256}"] = new Expectation(listed.Size, listed.Sha256, source, listedName);
                }

                count++;
            }

            _unreadable.TryRemove(key, out _);
            Log.Debug("Read {Count} checksums from {Index:l}", count, key);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // A damaged or unreadable index verifies nothing; apt will say what it thinks of it.
            _learnt.TryRemove(key, out _);
            _unreadable[key] = e.Message;
            Log.Warning("Cannot read the index {Index:l}: {Reason:l}", key, e.Message);
        }
    }

    /// <summary>
    /// What the paths an index lists are relative to: a Release's own directory (dists/SUITE); for a Packages or
    /// Sources index, the repository's root (what comes before /dists/), or its own directory in a flat repository.
    /// </summary>
    /// <summary>The indexes that could not be read, with the reason (a damaged or half-written file).</summary>
    public IReadOnlyDictionary<string, string> Unreadable => _unreadable;

    private readonly ConcurrentDictionary<string, string> _unreadable = new(StringComparer.Ordinal);

    /// <summary>The repository an index belongs to: the directory its Filename fields start from (above dists/).</summary>
    public static string RepositoryOf(string key, IndexKind kind) => BaseOf(key, kind);

    private static string BaseOf(string key, IndexKind kind)
    {
        var directory = key[..key.LastIndexOf('/')];
        if (kind == IndexKind.Release)
        {
            return directory;
        }

        var dists = key.LastIndexOf("/dists/", StringComparison.Ordinal);
        return dists >= 0 ? key[..dists] : directory;
    }

    private static string Sha256Of(SafeFileHandle body, long length)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[1 << 20];
        for (long offset = 0; offset < length;)
        {
            var read = RandomAccess.Read(body, buffer.AsSpan(0, (int)Math.Min(buffer.Length, length - offset)), offset);
            if (read == 0)
            {
                break;
            }

            hash.AppendData(buffer, 0, read);
            offset += read;
        }

        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }
}
