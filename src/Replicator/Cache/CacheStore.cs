using System.IO.Abstractions;
using Microsoft.Win32.SafeHandles;
using Serilog;

namespace Replicator.Cache;

/// <summary>Another process is writing this partial body now (see <see cref="CacheStore.OpenPartial"/>): not a storage failure.</summary>
internal sealed class PartialBusyException(string relativePath) : Exception($"another process is downloading {relativePath} into this cache")
{
    public string RelativePath { get; } = relativePath;
}

/// <summary>
/// Thrown by whoever serves a <see cref="CachedEntry"/> when the file is gone or is not the length its metadata says
/// (replaced or edited by hand): nothing was sent yet, and a fresh lookup will do.
/// </summary>
internal sealed class CacheEntryChangedException : Exception
{
    public CacheEntryChangedException(string relativePath, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        RelativePath = relativePath;
    }

    /// <summary>The cache path of the body that changed.</summary>
    public string RelativePath { get; }
}

/// <summary>A body in the cache tree and what is known about it.</summary>
/// <summary>A write of the tree would go through a symbolic link: refused, and not a failure of the storage.</summary>
internal sealed class TreeLinkException(string message) : Exception(message);

internal sealed record CachedEntry(string RelativePath, string BodyPath, long Length, StoredResponse Response)
{
    /// <summary>The body is no longer there.</summary>
    public CacheEntryChangedException Gone(Exception cause) => new(RelativePath, $"{RelativePath} is gone", cause);

    /// <summary>Throws when the body found is not the length its metadata says (replaced or edited by hand).</summary>
    public void CheckLength(long length)
    {
        if (length != Length)
        {
            throw new CacheEntryChangedException(RelativePath, $"{RelativePath} is {length} bytes, its metadata says {Length}");
        }
    }
}

/// <summary>
/// A body being written, outside the tree until <see cref="CacheStore.CommitAsync"/> moves it in whole. It may hold
/// bytes from an earlier, interrupted download (<see cref="Length"/>), with the response they came from
/// (<see cref="Resumable"/>) so the rest can be asked for with Range and If-Range.
/// </summary>
internal sealed class PartialBody : IDisposable
{
    public PartialBody(string relativePath, string path, SafeFileHandle handle, long length, StoredResponse? resumable)
    {
        RelativePath = relativePath;
        Path = path;
        Handle = handle;
        Length = length;
        Resumable = resumable;
    }

    public string RelativePath { get; }

    public string Path { get; }

    public string MetaPath => Path + CacheStore.PartialMetaSuffix;

    public SafeFileHandle Handle { get; }

    /// <summary>Bytes already in the file when it was opened.</summary>
    public long Length { get; }

    /// <summary>The response the existing bytes belong to, when they can be resumed.</summary>
    public StoredResponse? Resumable { get; }

    /// <summary>True until the partial's metadata is fsynced: the first write of the body does it (see <see cref="CacheStore.OpenPartial"/>).</summary>
    public bool MetaToSync { get; set; }

    /// <summary>
    /// Writes a piece of body at <paramref name="offset"/> (an IOException when the disk refuses it); the first write
    /// makes the metadata durable first, so that bytes on disk are always resumable.
    /// </summary>
    public void Write(long offset, ReadOnlySpan<byte> piece)
    {
        if (MetaToSync)
        {
            using (var meta = File.OpenHandle(MetaPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete))
            {
                NativeFile.Sync(meta);
            }

            NativeFile.SyncDirectory(System.IO.Path.GetDirectoryName(MetaPath)!);
            MetaToSync = false;
        }

        BeforeWrite?.Invoke(RelativePath);
        if (Direct is { } direct)
        {
            direct.Write(offset, piece);
        }
        else
        {
            RandomAccess.Write(Handle, piece, offset);
        }
    }

    /// <summary>Set for a large body: its bytes go around the page cache (see <see cref="DirectWriter"/>).</summary>
    public DirectWriter? Direct { get; init; }

    /// <summary>Test seam (see <see cref="CacheStore.BeforeBodyWrite"/>).</summary>
    public Action<string>? BeforeWrite { get; init; }

    /// <summary>Starts writing a range out to disk without waiting (see <see cref="NativeFile.StartWriteback"/>).</summary>
    public void StartWriteback(long offset, long count) => NativeFile.StartWriteback(Handle, offset, count);

    public void Dispose()
    {
        Direct?.Dispose();
        Handle.Dispose();
    }
}

/// <summary>
/// The cache tree on disk (docs/cache-layout.md), through <see cref="IFileSystem"/> so its rules run against a mock
/// file system in unit tests. Mirrored bodies live at ROOT/host:port/path and nothing else does; metadata lives at
/// ROOT/.replicator/meta/host:port/path, bodies being written at ROOT/.replicator/partial/.
///
/// A download, in order (docs/cache-layout.md, "Writing a body"):
///   (1) the partial's metadata (the response's validators) is written and fsynced at ROOT/.replicator/partial/PATH%meta,
///       so that the bytes that follow can be resumed after any crash;
///   (2) the body is written to ROOT/.replicator/partial/PATH, outside the tree;
///   (3) complete: the body gets its modification time, and its metadata is written beside its final place; both
///       are flushed to disk (an fsync each, or one syncfs for a whole batch of commits: CacheStore.Commit.cs);
///   (4) the metadata is renamed over its final place;
///   (5) the body is renamed into the tree, and the directory fsynced; the partial's metadata is removed.
/// The metadata names the body's length and time stamp, so metadata that does not match the body beside it (a crash
/// between (4) and (5)) is ignored and the body is revalidated like one copied in by hand. Nothing is in the tree
/// until (5), so a crash never leaves a file there that looks complete and is not.
/// </summary>
internal sealed partial class CacheStore
{
    /// <summary>Added to a partial body's path for its metadata: '%m' is a name no normalised URL produces.</summary>
    public const string PartialMetaSuffix = "%meta";

    /// <summary>Metadata is re-read only when its body changed: a hit costs one stat, not an open, read and parse.</summary>
    private const int MaxKnown = 50_000;

    private readonly IFileSystem _fs;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, StoredResponse> _known = new(StringComparer.Ordinal);
    private long _partialCounter;

    public CacheStore(IFileSystem fs, string root, TimeProvider? clock = null)
    {
        _fs = fs;
        Root = fs.Path.GetFullPath(root);
        Health = new StorageHealth(clock ?? TimeProvider.System);
        Tree = new TreeReader(Root);
    }

    /// <summary>Opens bodies for reading, never through a symbolic link (see <see cref="TreeReader"/>).</summary>
    public TreeReader Tree { get; }

    public string Root { get; }

    /// <summary>Whether writes are attempted now (see <see cref="StorageHealth"/>).</summary>
    public StorageHealth Health { get; }

    private string PartialRoot => _fs.Path.Join(Root, CacheLayout.PrivateDirectory, "partial");

    public string BodyPath(string relativePath)
    {
        // Per relative-path instance (remembered with its URL, see CacheLayout.RelativePath): a hit joins no path.
        if (_bodyPaths.TryGetValue(relativePath, out var known))
        {
            return known;
        }

        var path = _fs.Path.Join(Root, relativePath);
        _bodyPaths.AddOrUpdate(relativePath, path);
        return path;
    }

    private readonly System.Runtime.CompilerServices.ConditionalWeakTable<string, string> _bodyPaths = new();

    public string MetaPath(string relativePath) => _fs.Path.Join(Root, CacheLayout.PrivateDirectory, "meta", relativePath);

    /// <summary>
    /// The stored body for <paramref name="relativePath"/>, or null. A body whose metadata is remembered is not even
    /// stat'ed: whoever serves it opens it anyway, and must check its length (see <see cref="CacheEntryChangedException"/>).
    /// </summary>
    public CachedEntry? Lookup(string relativePath)
    {
        var body = BodyPath(relativePath);
        if (_known.TryGetValue(relativePath, out var remembered))
        {
            return new CachedEntry(relativePath, body, remembered.Length, remembered);
        }

        var info = _fs.FileInfo.New(body);
        if (!info.Exists)
        {
            return null;
        }

        if (Tree.PassesThroughLink(relativePath))
        {
            // A link planted in the tree is never followed: the entry is not in the cache (a download replaces a
            // link in the last place by the file; a linked directory keeps the URL uncached).
            Log.Warning("Cache entry {Path:l} passes through a symbolic link: not served", relativePath);
            return null;
        }

        var length = info.Length;
        var stamp = new DateTimeOffset(info.LastWriteTimeUtc, TimeSpan.Zero);
        var stored = LoadMeta(relativePath);
        if (stored is null || !Describes(stored, length, stamp))
        {
            stored = Synthesize(body, length, stamp);
        }
        else
        {
            Remember(relativePath, stored);
        }

        return new CachedEntry(relativePath, body, length, stored);
    }

    /// <summary>Where a stored non-200 answer lives: never in the tree, which holds only the exact bodies of 200s.</summary>
    public string AnswerPath(string relativePath) => _fs.Path.Join(Root, CacheLayout.PrivateDirectory, "answers", relativePath);

    /// <summary>A stored non-200 answer (its status, fields and whole body), or null.</summary>
    public (StoredResponse Response, byte[] Body)? LookupAnswer(string relativePath)
    {
        var path = AnswerPath(relativePath);
        try
        {
            // Checked on every miss: the cheap test first, the walk for links only when an answer is there.
            if (!_fs.File.Exists(path) || Tree.PassesThroughLink(_fs.Path.GetRelativePath(Root, path)))
            {
                return null;
            }

            var bytes = _fs.File.ReadAllBytes(path);
            var end = bytes.AsSpan().IndexOf("\r\n\r\n"u8);
            return end >= 0 && StoredResponse.TryParse(bytes.AsSpan(0, end + 4)) is { } stored && stored.Length == bytes.Length - end - 4
                ? (stored, bytes[(end + 4)..])
                : null;
        }
        catch (Exception e) when (StorageHealth.IsStorageError(e))
        {
            return null;
        }
    }

    /// <summary>Stores a non-200 answer whole (head and body in one file, written aside and renamed in).</summary>
    public void PutAnswer(string relativePath, StoredResponse stored, byte[] body)
    {
        var path = AnswerPath(relativePath);
        if (CanPlace(path))
        {
            MoveOver(WriteAside(path, stored.Serialize(), body, flush: true), path);
        }
    }

    /// <summary>Removes a stored non-200 answer (a 200 body took its place, or it expired).</summary>
    public void RemoveAnswer(string relativePath) => DeleteQuietly(AnswerPath(relativePath));

    /// <summary>
    /// Opens a stored body to serve it; <see cref="CacheEntryChangedException"/> when it is gone, passes through a
    /// link, or is not the length its metadata says.
    /// </summary>
    public SafeFileHandle OpenBody(CachedEntry entry)
    {
        SafeFileHandle file;
        try
        {
            file = Tree.OpenForReading(entry.BodyPath);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw entry.Gone(e);
        }

        try
        {
            entry.CheckLength(RandomAccess.GetLength(file));
            return file;
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>The host directories of the tree (host:port), sorted; the private directory is not one.</summary>
    public IReadOnlyList<string> ListHosts() => [.. Directories(Root).Where(name => name != CacheLayout.PrivateDirectory).SelectMany(name =>
        name == CacheLayout.HttpsDirectory ? Directories(_fs.Path.Join(Root, name)).Select(host => $"{name}/{host}") : [name]).Order(StringComparer.Ordinal)];

    private IEnumerable<string> Directories(string path) =>
        _fs.Directory.Exists(path) ? _fs.Directory.EnumerateDirectories(path).Select(_fs.Path.GetFileName).OfType<string>() : [];

    /// <summary>
    /// What an earlier download of <paramref name="relativePath"/> left that can be resumed: its length and the
    /// response it belongs to (which has a validator for If-Range); null when there is nothing to resume. Creates
    /// nothing: a partial is created only once the origin's answer is known to be a body to store.
    /// </summary>
    public (long Length, StoredResponse Response)? FindResumable(string relativePath)
    {
        var path = _fs.Path.Join(PartialRoot, relativePath);
        RefuseLinks(path);
        var metaPath = path + PartialMetaSuffix;
        var info = _fs.FileInfo.New(path);
        if (!info.Exists || info.Length == 0 || !_fs.File.Exists(metaPath))
        {
            return null;
        }

        var resumable = StoredResponse.TryParse(_fs.File.ReadAllBytes(metaPath));
        return resumable is null || (resumable.ETag is null && resumable.LastModified is null) || (resumable.Length >= 0 && info.Length > resumable.Length)
            ? null
            : (info.Length, resumable);
    }

    /// <summary>
    /// Test seam: runs on the writing thread before each write into a partial body, with its path; a test blocks in
    /// it to play a disk that has stalled.
    /// </summary>
    internal Action<string>? BeforeBodyWrite { get; set; }

    /// <summary>
    /// Opens the partial body of <paramref name="relativePath"/> for <paramref name="stored"/>, keeping its first
    /// <paramref name="keep"/> bytes (a resume, as <see cref="FindResumable"/> found them) and dropping the rest, and
    /// records (fsynced) what it will hold. One download per path at a time: the download registry makes sure of
    /// that. On failure nothing of it is left.
    /// </summary>
    public PartialBody OpenPartial(string relativePath, StoredResponse stored, long keep)
    {
        var path = _fs.Path.Join(PartialRoot, relativePath);
        RefuseLinks(path);
        SafeFileHandle? handle;
        try
        {
            handle = OpenLocked(path);
        }
        catch (DirectoryNotFoundException)
        {
            // Its directory is made only when missing: a miss costs no mkdir and stat of a directory already there.
            _fs.Directory.CreateDirectory(_fs.Path.GetDirectoryName(path)!);
            handle = OpenLocked(path);
        }

        if (handle is null)
        {
            throw new PartialBusyException(relativePath);
        }

        var direct = stored.Length >= DirectWriteAbove && DirectWriteAbove > 0 ? new DirectWriter(handle) : null;
        var partial = new PartialBody(relativePath, path, handle, keep, keep > 0 ? stored : null) { BeforeWrite = BeforeBodyWrite, Direct = direct };
        try
        {
            var length = RandomAccess.GetLength(handle);
            if (length < keep)
            {
                throw new IOException($"the partial body of {relativePath} is shorter than the {keep} bytes to resume");
            }

            if (length != keep)
            {
                RandomAccess.SetLength(handle, keep);
            }

            if (stored.Length is < 0 or > ResumableAbove)
            {
                // What makes a partial resumable, even after a power cut. A small body is fetched again whole instead,
                // and saves a file created, fsynced and renamed (a mirror of many small files pays them per file).
                // Its fsync waits for the first write of the body, off the loop: the clients have the head meanwhile.
                WriteDurably(partial.MetaPath, stored, flush: false);
                partial.MetaToSync = true;
            }
            return partial;
        }
        catch
        {
            partial.Dispose();
            Discard(partial);
            throw;
        }
    }

    /// <summary>
    /// Bodies of at least this many bytes are written around the page cache (--direct-io; see <see cref="DirectWriter"/>);
    /// 0: none.
    /// </summary>
    public long DirectWriteAbove { get; init; }

    /// <summary>Whether another process holds the partial of <paramref name="relativePath"/> (it is downloading it now).</summary>
    public bool IsPartialBusy(string relativePath)
    {
        var path = _fs.Path.Join(PartialRoot, relativePath);
        if (!_fs.File.Exists(path))
        {
            return false;
        }

        try
        {
            using var handle = OpenLocked(path, FileMode.Open);
            return handle is null;
        }
        catch (Exception e) when (StorageHealth.IsStorageError(e))
        {
            return false;
        }
    }

    /// <summary>
    /// Opens a partial body holding an exclusive flock(2) on it; null when another process holds it (a proxy and
    /// a mirror run on the same root: a partial is never written by two at once). .NET's own emulation of file
    /// sharing takes a shared flock as it opens, and says "used by another process" when that fails.
    /// </summary>
    private SafeFileHandle? OpenLocked(string path, FileMode mode = FileMode.OpenOrCreate)
    {
        const int WouldBlock = 11; // on Linux, .NET's IOException carries flock's errno (EWOULDBLOCK)
        SafeFileHandle handle;
        try
        {
            handle = _fs.File.OpenHandle(path, mode, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);
        }
        catch (IOException e) when (e.HResult == WouldBlock)
        {
            return null;
        }

        if (NativeFile.TryLockExclusive(handle))
        {
            return handle;
        }

        handle.Dispose();
        return null;
    }

    /// <summary>Replaces the metadata of a stored body (after a 304).</summary>
    public void UpdateMeta(string relativePath, StoredResponse stored) => WriteMeta(relativePath, stored);

    /// <summary>
    /// Marks what is stored for <paramref name="relativePath"/> as needing validation before its next use (RFC 9111
    /// section 4.4). A body without metadata is validated before use anyway.
    /// </summary>
    public void Invalidate(string relativePath)
    {
        if (Lookup(relativePath) is { Response.Synthesized: false } entry && !entry.Response.Invalidated)
        {
            WriteMeta(relativePath, entry.Response with { Invalidated = true });
        }
    }

    /// <summary>
    /// Space is short: removes every partial body (with its metadata) that no running download writes, giving up
    /// the chance to resume them. Returns how many bytes that freed.
    /// </summary>
    public long DeleteAbandonedPartials(Func<string, bool> isRunning)
    {
        var partialRoot = PartialRoot;
        if (!_fs.Directory.Exists(partialRoot))
        {
            return 0;
        }

        long freed = 0;
        foreach (var path in _fs.Directory.EnumerateFiles(partialRoot, "*", SearchOption.AllDirectories))
        {
            var body = path.EndsWith(PartialMetaSuffix, StringComparison.Ordinal) ? path[..^PartialMetaSuffix.Length] : path;
            var relative = _fs.Path.GetRelativePath(partialRoot, body);
            if (isRunning(relative) || IsPartialBusy(relative))
            {
                continue;
            }

            try
            {
                var length = _fs.FileInfo.New(path).Length;
                _fs.File.Delete(path);
                freed += length;
            }
            catch (Exception e) when (StorageHealth.IsStorageError(e))
            {
            }
        }

        return freed;
    }

    /// <summary>Removes a partial body and its metadata; its handle stays usable by whoever still reads it.</summary>
    public void Discard(PartialBody partial)
    {
        DeleteQuietly(partial.Path);
        DeleteQuietly(partial.MetaPath);
    }

    private void DeleteQuietly(string path)
    {
        try
        {
            _fs.File.Delete(path);
        }
        catch (Exception e) when (StorageHealth.IsStorageError(e))
        {
        }
    }

    /// <summary>
    /// Removes a stored body with its metadata and any stored answer for its path (eviction, expiry, purge). A reader
    /// that opened the body keeps reading what it opened. Returns the body's length, or -1 when no body was there.
    /// </summary>
    public long Remove(string relativePath)
    {
        var body = BodyPath(relativePath);
        long length = -1;
        try
        {
            var info = _fs.FileInfo.New(body);
            if (info.Exists && !info.Attributes.HasFlag(FileAttributes.Directory))
            {
                length = info.Length;
                _fs.File.Delete(body);
            }
        }
        catch (Exception e) when (StorageHealth.IsStorageError(e))
        {
        }

        DeleteQuietly(MetaPath(relativePath));
        RemoveAnswer(relativePath);
        Forget(relativePath);
        if (length >= 0)
        {
            BodyRemoved?.Invoke(relativePath);
        }

        return length;
    }

    /// <summary>
    /// Raised (on the removing thread) when a body leaves the tree by <see cref="Remove"/> or <see cref="MoveAside"/>,
    /// whoever asked (a purge, the console, expiry, eviction, a mirror's --delete): the usage ledger forgets it.
    /// </summary>
    public event Action<string>? BodyRemoved;

    /// <summary>
    /// Why a stored body is damaged, or null: its metadata names another length or time stamp than the body has (a
    /// body cut or edited by hand). A body without metadata is not damaged: it was put there by hand.
    /// </summary>
    public string? Damage(string relativePath)
    {
        var info = _fs.FileInfo.New(BodyPath(relativePath));
        if (!info.Exists || LoadMeta(relativePath) is not { } stored)
        {
            return null;
        }

        return Describes(stored, info.Length, new DateTimeOffset(info.LastWriteTimeUtc, TimeSpan.Zero))
            ? null
            : $"{info.Length} bytes written {info.LastWriteTimeUtc:u}, its metadata says {stored.Length} bytes";
    }

    /// <summary>Moves a damaged body (and its metadata) out of the tree to ROOT/.replicator/damaged/PATH: it is fetched again.</summary>
    public void MoveAside(string relativePath)
    {
        var aside = _fs.Path.Join(Root, CacheLayout.PrivateDirectory, "damaged", relativePath);
        _fs.Directory.CreateDirectory(_fs.Path.GetDirectoryName(aside)!);
        _fs.File.Move(BodyPath(relativePath), aside, overwrite: true);
        DeleteQuietly(MetaPath(relativePath));
        Forget(relativePath);
        BodyRemoved?.Invoke(relativePath);
    }

    /// <summary>
    /// Puts a copy of <paramref name="source"/> into the tree at <paramref name="relativePath"/> as a download would
    /// (written beside, fsynced, renamed in; never over an existing file); false when a file is there already.
    /// </summary>
    public bool Adopt(string relativePath, string source)
    {
        if (relativePath.StartsWith('/') || relativePath.Split('/').Any(segment => segment is "" or "." or ".."))
        {
            return false; // a name an index gave: never a way out of the tree
        }

        var body = BodyPath(relativePath);
        if (_fs.File.Exists(body))
        {
            return false;
        }

        var temporary = _fs.Path.Join(PartialRoot, $"adopt-{Environment.ProcessId}-{Interlocked.Increment(ref _partialCounter)}");
        _fs.Directory.CreateDirectory(PartialRoot);
        try
        {
            _fs.File.Copy(source, temporary, overwrite: true);
            using (var handle = _fs.File.OpenHandle(temporary, FileMode.Open, FileAccess.ReadWrite))
            {
                NativeFile.Sync(handle);
            }

            _fs.Directory.CreateDirectory(_fs.Path.GetDirectoryName(body)!);
            _fs.File.Move(temporary, body, overwrite: false);
            NativeFile.SyncDirectory(_fs.Path.GetDirectoryName(body)!);
            return true;
        }
        finally
        {
            DeleteQuietly(temporary);
        }
    }

    /// <summary>Every body in the tree (never the proxy's own area, never through a link): its relative path, length and last write.</summary>
    public IEnumerable<(string RelativePath, long Length, DateTime LastWriteUtc)> EnumerateBodies()
    {
        var options = new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = FileAttributes.ReparsePoint, IgnoreInaccessible = true };
        foreach (var top in _fs.Directory.EnumerateDirectories(Root))
        {
            if (_fs.Path.GetFileName(top) == CacheLayout.PrivateDirectory || _fs.File.GetAttributes(top).HasFlag(FileAttributes.ReparsePoint))
            {
                continue;
            }

            foreach (var file in _fs.DirectoryInfo.New(top).EnumerateFiles("*", options))
            {
                yield return (_fs.Path.GetRelativePath(Root, file.FullName), file.Length, file.LastWriteTimeUtc);
            }
        }
    }

    /// <summary>The relative paths of the bodies being downloaded now, or left to resume (their metadata files left out).</summary>
    public IEnumerable<string> EnumeratePartials()
    {
        var partialRoot = PartialRoot;
        return _fs.Directory.Exists(partialRoot)
            ? _fs.Directory.EnumerateFiles(partialRoot, "*", SearchOption.AllDirectories)
                .Where(path => !path.EndsWith(PartialMetaSuffix, StringComparison.Ordinal))
                .Select(path => _fs.Path.GetRelativePath(partialRoot, path))
            : [];
    }

    /// <summary>The length and last write of the body stored for <paramref name="relativePath"/>, or null when there is none.</summary>
    public (long Length, DateTime LastWriteUtc)? BodyStatus(string relativePath)
    {
        try
        {
            var info = _fs.FileInfo.New(BodyPath(relativePath));
            return info.Exists ? (info.Length, info.LastWriteTimeUtc) : null;
        }
        catch (Exception e) when (StorageHealth.IsStorageError(e))
        {
            return null;
        }
    }

    /// <summary>When the metadata of a body was last written (stored or revalidated), or null without metadata.</summary>
    public DateTime? MetaWrittenUtc(string relativePath)
    {
        var meta = _fs.FileInfo.New(MetaPath(relativePath));
        return meta.Exists ? meta.LastWriteTimeUtc : null;
    }

    /// <summary>Drops what is remembered of a body that turned out to have changed behind the proxy's back.</summary>
    public void Forget(string relativePath) => _known.TryRemove(relativePath, out _);

    /// <summary>Whether metadata belongs to the body beside it (length, and time stamp to the second).</summary>
    private static bool Describes(StoredResponse stored, long length, DateTimeOffset stamp) =>
        stored.Length == length && Math.Abs((stored.BodyStamp - stamp).TotalSeconds) < 1;

    private void Remember(string relativePath, StoredResponse stored)
    {
        if (_known.Count >= MaxKnown)
        {
            _known.Clear();
        }

        _known[relativePath] = stored;
    }

    private StoredResponse? LoadMeta(string relativePath)
    {
        try
        {
            var path = MetaPath(relativePath);
            return _fs.File.Exists(path) ? StoredResponse.TryParse(_fs.File.ReadAllBytes(path)) : null;
        }
        catch (IOException)
        {
            return null;
        }
    }

    private void WriteMeta(string relativePath, StoredResponse stored)
    {
        var path = MetaPath(relativePath);
        _known.TryRemove(relativePath, out _);
        if (!CanPlace(path))
        {
            return;
        }

        WriteDurably(path, stored);
        Remember(relativePath, stored);
    }

    /// <summary>A partial body larger than this (or of unknown length) has metadata, to be resumed; a smaller one is fetched again whole.</summary>
    public const long ResumableAbove = 256 << 10;

    /// <summary>Writes metadata to a temporary file, flushes it to disk (unless told not to), and renames it over <paramref name="path"/>.</summary>
    private void WriteDurably(string path, StoredResponse stored, bool flush = true) => MoveOver(WriteAside(path, stored.Serialize(), [], flush), path);

    /// <summary>
    /// Writes <paramref name="head"/> and <paramref name="body"/> to a new temporary file beside <paramref name="path"/>,
    /// flushed to disk when asked, and returns its path. On failure (a full disk, a read-only tree) nothing is left.
    /// </summary>
    private string WriteAside(string path, byte[] head, byte[] body, bool flush)
    {
        var temporary = path + ".new" + Interlocked.Increment(ref _partialCounter).ToString(System.Globalization.CultureInfo.InvariantCulture);
        try
        {
            using var stream = _fs.File.Create(temporary);
            stream.Write(head);
            stream.Write(body);
            stream.Flush(flushToDisk: flush);
            return temporary;
        }
        catch
        {
            DeleteQuietly(temporary);
            throw;
        }
    }

    /// <summary>Renames <paramref name="temporary"/> over <paramref name="path"/>; on failure the temporary goes.</summary>
    private void MoveOver(string temporary, string path)
    {
        try
        {
            _fs.File.Move(temporary, path, overwrite: true);
        }
        catch
        {
            DeleteQuietly(temporary);
            throw;
        }
    }

    /// <summary>
    /// Whether a file may be written at <paramref name="path"/>: no symbolic link above it, its directories there
    /// (made when missing), and no directory in its place.
    /// </summary>
    private bool CanPlace(string path) => !ParentPassesThroughLink(path) && TryCreateParent(path) && !_fs.Directory.Exists(path);

    /// <summary>Whether a directory above <paramref name="path"/> (below the root) is a symbolic link: nothing is written through it.</summary>
    private bool ParentPassesThroughLink(string path) =>
        _fs.Path.GetRelativePath(Root, _fs.Path.GetDirectoryName(path)!) is var parent && parent != "." && Tree.PassesThroughLink(parent);

    private void RefuseLinks(string path)
    {
        if (Tree.PassesThroughLink(_fs.Path.GetRelativePath(Root, path)))
        {
            throw new TreeLinkException($"{path} passes through a symbolic link, which the cache never follows");
        }
    }

    /// <summary>Creates the directories above <paramref name="path"/>; false when a file stands where one must be.</summary>
    private bool TryCreateParent(string path)
    {
        try
        {
            // Mostly there already: one stat, where CreateDirectory tries mkdir first and then stats the directory.
            var parent = _fs.Path.GetDirectoryName(path)!;
            if (!_fs.Directory.Exists(parent))
            {
                _fs.Directory.CreateDirectory(parent);
            }

            return true;
        }
        catch (IOException)
        {
            return false;
        }
    }

    private static StoredResponse Synthesize(string body, long length, DateTimeOffset stamp)
    {
        var headers = new Http.HttpHeaders();
        headers.Add("Content-Type", ContentTypes.Guess(body));
        headers.Add("Last-Modified", Http.HttpDate.Format(stamp));
        return new StoredResponse
        {
            Headers = headers,
            RequestTime = stamp,
            ResponseTime = stamp,
            Length = length,
            BodyStamp = stamp,
            Synthesized = true,
        };
    }
}
