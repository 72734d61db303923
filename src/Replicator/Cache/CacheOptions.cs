namespace Replicator.Cache;

/// <summary>When a cached body is served without asking the origin first.</summary>
internal enum ServeWithoutAsking
{
    /// <summary>Only while fresh (RFC 9111); stale bodies are revalidated.</summary>
    Never,

    /// <summary>--static: any complete cached body; missing ones are fetched.</summary>
    Static,

    /// <summary>--offline: any cached body, and the origin is never contacted (504 for what is missing).</summary>
    Offline,
}

/// <summary>What the cache side is told: where the tree is, how URLs map into it, when it is trusted as it is, and when
/// an abandoned download still finishes. Each default is written here once.</summary>
internal sealed record CacheOptions
{
    public static CacheOptions Defaults { get; } = new() { Root = "cache" };

    /// <summary>The cache root (--root).</summary>
    public required string Root { get; init; }

    /// <summary>--alias and --flat: where a URL's cache path really goes.</summary>
    public PathMapping Mapping { get; init; } = PathMapping.None;

    public ServeWithoutAsking Serve { get; init; } = ServeWithoutAsking.Never;

    /// <summary>A download whose last client left still finishes when its body is at most this many bytes.</summary>
    public long FinishBelow { get; init; } = 16 * 1024 * 1024;

    /// <summary>
    /// Bodies of at least this many bytes are written straight to the disk, around the page cache (--direct-io; see
    /// <see cref="DirectWriter"/>); 0: none.
    /// </summary>
    public long DirectWriteAbove { get; init; } = 64L << 20;

    /// <summary>Memory for small bodies kept copied (a hit on one costs a statx, not open, read and close).</summary>
    public long CopiedBodyBudget { get; init; } = 64L << 20;

    /// <summary>Address space for large bodies kept mapped for clients on this host (the kernel allows 65,530 mappings).</summary>
    public long MappedBodyBudget { get; init; } = 8L << 30;

    /// <summary>What each path is (package, index, other): <see cref="FileClasses"/>, with --immutable and --volatile.</summary>
    public FileClasses Classes { get; init; } = FileClasses.BuiltIn;

    /// <summary>
    /// Percent of the time since Last-Modified a response without an explicit lifetime stays fresh (--heuristic;
    /// RFC 9111 section 4.2.2); 0: never heuristically fresh.
    /// </summary>
    public int HeuristicPercent { get; init; } = 10;

    /// <summary>How fresh an entry of this class may be by heuristic: indexes never are.</summary>
    public double HeuristicFor(FileClass fileClass) => fileClass == FileClass.Volatile ? 0 : HeuristicPercent / 100.0;

    /// <summary>A complete cached body is served without asking the origin (--static or --offline).</summary>
    public bool Static => Serve != ServeWithoutAsking.Never;

    /// <summary>The size cap and free space to keep (--max-size, --min-free): see <see cref="Upkeep.UsageLedger"/>.</summary>
    public Upkeep.UpkeepOptions Upkeep { get; init; } = Cache.Upkeep.UpkeepOptions.Defaults;

    /// <summary>The origin is never contacted (--offline).</summary>
    public bool Offline => Serve == ServeWithoutAsking.Offline;
}
