using System.IO.Abstractions;
using Microsoft.Win32.SafeHandles;

namespace Replicator.Cache;

/// <summary>A body in the cache tree and what is known about it.</summary>
internal sealed record CachedEntry(string RelativePath, string BodyPath, long Length, StoredResponse Response);

/// <summary>A body being written, outside the tree until <see cref="CacheStore.Commit"/> moves it in whole.</summary>
internal sealed class PartialBody : IDisposable
{
    public PartialBody(string relativePath, string path, SafeFileHandle handle)
    {
        RelativePath = relativePath;
        Path = path;
        Handle = handle;
    }

    public string RelativePath { get; }

    public string Path { get; }

    public SafeFileHandle Handle { get; }

    public void Dispose() => Handle.Dispose();
}

/// <summary>
/// The cache tree on disk (docs/cache-layout.md), through <see cref="IFileSystem"/> so its rules run against a mock
/// file system in unit tests. Mirrored bodies live at ROOT/host:port/path and nothing else does; metadata lives at
/// ROOT/.replicator/meta/host:port/path, bodies being written at ROOT/.replicator/partial/.
///
/// Finishing a body, in order: (1) the body is written in the partial area; (2) its modification time is set;
/// (3) the metadata is written beside its final place and renamed over it; (4) the body is renamed into the tree.
/// The metadata names the body's length and time stamp, so metadata that does not match the body beside it (a crash
/// between (3) and (4)) is ignored and the body is revalidated like one copied in by hand.
/// </summary>
internal sealed class CacheStore
{
    private readonly IFileSystem _fs;
    private long _partialCounter;

    public CacheStore(IFileSystem fs, string root)
    {
        _fs = fs;
        Root = fs.Path.GetFullPath(root);
    }

    public string Root { get; }

    public string BodyPath(string relativePath) => _fs.Path.Join(Root, relativePath);

    public string MetaPath(string relativePath) => _fs.Path.Join(Root, CacheLayout.PrivateDirectory, "meta", relativePath);

    /// <summary>The stored body for <paramref name="relativePath"/>, or null.</summary>
    public CachedEntry? Lookup(string relativePath)
    {
        var body = BodyPath(relativePath);
        if (!_fs.File.Exists(body))
        {
            return null;
        }

        var info = _fs.FileInfo.New(body);
        var length = info.Length;
        var stamp = new DateTimeOffset(info.LastWriteTimeUtc, TimeSpan.Zero);
        var stored = LoadMeta(relativePath);
        if (stored is null || stored.Length != length || Math.Abs((stored.BodyStamp - stamp).TotalSeconds) >= 1)
        {
            stored = Synthesize(body, length, stamp);
        }

        return new CachedEntry(relativePath, body, length, stored);
    }

    /// <summary>Opens a new partial body for <paramref name="relativePath"/>.</summary>
    public PartialBody BeginBody(string relativePath)
    {
        var path = _fs.Path.Join(Root, CacheLayout.PrivateDirectory, "partial", relativePath) + "." + Interlocked.Increment(ref _partialCounter).ToString(System.Globalization.CultureInfo.InvariantCulture);
        _fs.Directory.CreateDirectory(_fs.Path.GetDirectoryName(path)!);
        var handle = _fs.File.OpenHandle(path, FileMode.Create, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);
        return new PartialBody(relativePath, path, handle);
    }

    /// <summary>
    /// Moves a complete partial body into the tree with its metadata. False when the tree has a file where a
    /// directory is needed, or a directory where the file goes: nothing cached is touched, the partial is dropped.
    /// </summary>
    public bool Commit(PartialBody partial, StoredResponse stored)
    {
        var body = BodyPath(partial.RelativePath);
        if (!TryCreateParent(body) || _fs.Directory.Exists(body))
        {
            Discard(partial);
            return false;
        }

        _fs.File.SetLastWriteTimeUtc(partial.Path, stored.BodyStamp.UtcDateTime);
        WriteMeta(partial.RelativePath, stored);
        _fs.File.Move(partial.Path, body, overwrite: true);
        return true;
    }

    /// <summary>Replaces the metadata of a stored body (after a 304).</summary>
    public void UpdateMeta(string relativePath, StoredResponse stored) => WriteMeta(relativePath, stored);

    /// <summary>Removes a partial body's file; its handle stays usable by whoever still reads it.</summary>
    public void Discard(PartialBody partial)
    {
        try
        {
            _fs.File.Delete(partial.Path);
        }
        catch (IOException)
        {
        }
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
        if (!TryCreateParent(path) || _fs.Directory.Exists(path))
        {
            return;
        }

        var temporary = path + ".new" + Interlocked.Increment(ref _partialCounter).ToString(System.Globalization.CultureInfo.InvariantCulture);
        _fs.File.WriteAllBytes(temporary, stored.Serialize());
        _fs.File.Move(temporary, path, overwrite: true);
    }

    /// <summary>Creates the directories above <paramref name="path"/>; false when a file stands where one must be.</summary>
    private bool TryCreateParent(string path)
    {
        try
        {
            _fs.Directory.CreateDirectory(_fs.Path.GetDirectoryName(path)!);
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
