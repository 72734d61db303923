namespace Replicator.Cache.Upkeep;

/// <summary>One file the cache knows, as the usage ledger keeps it in memory.</summary>
internal sealed class FileUsage(string path, long size, long stored, long lastAccess, FileClass fileClass)
{
    public string Path { get; } = path;

    public long Size { get; set; } = size;

    public long Stored { get; set; } = stored;

    public long LastAccess { get; set; } = lastAccess;

    public long Hits { get; set; }

    public long BytesServed { get; set; }

    public FileClass Class { get; set; } = fileClass;

    public FileRecord ToRecord() => new(Path, Size, Stored, LastAccess, Hits, BytesServed, Class);
}

/// <summary>
/// The files of the tree by last access, least recent first, O(log n) per change and per removal (issue 14): indexes
/// (volatile files) in an order of their own, so that they go only once nothing else is left (they cost little and
/// make sense of the rest). Not thread-safe: owned by the ledger's thread.
/// </summary>
internal sealed class EvictionOrder
{
    private static readonly Comparer<FileUsage> s_byAccess = Comparer<FileUsage>.Create(static (a, b) =>
    {
        var order = a.LastAccess.CompareTo(b.LastAccess);
        return order != 0 ? order : string.CompareOrdinal(a.Path, b.Path);
    });

    private readonly SortedSet<FileUsage> _files = new(s_byAccess);
    private readonly SortedSet<FileUsage> _indexes = new(s_byAccess);

    public int Count => _files.Count + _indexes.Count;

    public void Add(FileUsage file) => SetOf(file).Add(file);

    public void Remove(FileUsage file) => SetOf(file).Remove(file);

    /// <summary>Changes a file's last access (or class) keeping the order.</summary>
    public void Update(FileUsage file, long lastAccess, FileClass fileClass)
    {
        Remove(file);
        file.LastAccess = lastAccess;
        file.Class = fileClass;
        Add(file);
    }

    /// <summary>Files in the order they go: the least recently used first, indexes after everything else.</summary>
    public IEnumerable<FileUsage> Candidates() => _files.Concat(_indexes);

    private SortedSet<FileUsage> SetOf(FileUsage file) => file.Class == FileClass.Volatile ? _indexes : _files;
}
