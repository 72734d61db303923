using System.Collections.Concurrent;
using Serilog;

namespace Replicator.Cache.Upkeep;

/// <summary>What the upkeep is told: the size cap (--max-size) and the free space to keep (--min-free).</summary>
internal sealed record UpkeepOptions
{
    public static UpkeepOptions Defaults { get; } = new();

    /// <summary>The most bytes of bodies the tree may hold (--max-size); null: no cap.</summary>
    public long? MaxSize { get; init; }

    /// <summary>The share of the file system to keep free (--min-free, 0.1 for 10%); null: none.</summary>
    public double? MinFree { get; init; }

    /// <summary>Eviction goes down to this share of the cap (or this much more free space than asked), so that it runs in passes, not per file.</summary>
    public double LowWater { get; init; } = 0.9;

    /// <summary>Expiry of package files no index lists (--expire-after, --keep-versions); null: never on its own.</summary>
    public ExpiryOptions? Expiry { get; init; } = ExpiryOptions.Defaults;

    /// <summary>How often expiry runs in a proxy (first one this long after start).</summary>
    public TimeSpan ExpireEvery { get; init; } = TimeSpan.FromDays(1);

    /// <summary>
    /// False for a process that only fills the tree (replicator mirror): no walk of the tree at start, nothing written;
    /// the proxy running on the root counts what it stored from its first hit, or at its next start, as any file put there.
    /// </summary>
    public bool Enabled { get; init; } = true;

    /// <summary>How often the recorded accesses are written to the database.</summary>
    public TimeSpan Interval { get; init; } = TimeSpan.FromSeconds(5);
}

/// <summary>
/// Why: the tree holds bodies, not when they were last used or how often (issue 14). Hits only enqueue a small record
/// (no lock, no I/O); one thread of the ledger's own applies them in batches to the files it knows (with their
/// <see cref="EvictionOrder"/>), writes them to the <see cref="UsageDatabase"/>, and evicts the least recently used
/// files whenever the tree passes --max-size or the disk's free space falls under --min-free. At start it loads the
/// database and reconciles it with the tree, the truth: files unknown to it are adopted, entries whose files are gone
/// are dropped. A file being read (large bodies register their readers) is never evicted.
/// </summary>
internal sealed class UsageLedger : IDisposable
{
    private enum Kind : byte
    {
        Hit,
        Miss,
        Stored,
        Removed,
    }

    private readonly record struct Usage(Kind Kind, string Path, long Bytes, long Time, FileClass Class, long Count = 1);

    /// <summary>The hits of one thread since the last pass, by path (the very string: a hit does not hash its text).</summary>
    private sealed class Tally
    {
        public readonly Lock Lock = new();
        public Dictionary<string, HitTally> Hits = new(ByReference.Instance);
    }

    private sealed class HitTally
    {
        public long Count;
        public long Bytes;
        public long Last;
    }

    private sealed class ByReference : IEqualityComparer<string>
    {
        public static readonly ByReference Instance = new();

        public bool Equals(string? x, string? y) => ReferenceEquals(x, y);

        public int GetHashCode(string obj) => System.Runtime.CompilerServices.RuntimeHelpers.GetHashCode(obj);
    }

    /// <summary>
    /// Hits are counted per thread and per file, not queued one by one: a pass then applies one record per file hit
    /// (a queue of every hit made each pass a burst of work as long as the hits were many, felt in the hits' tail).
    /// </summary>
    /// <remarks>By managed thread id, not ThreadLocal: a thread's tally must outlive the thread (a loop stopped before the ledger).</remarks>
    private readonly ConcurrentDictionary<int, Tally> _tallies = new();

    private readonly CacheStore _store;
    private readonly UpkeepOptions _options;
    private readonly TimeProvider _clock;
    private readonly ConcurrentQueue<Usage> _recorded = new();
    private readonly ConcurrentDictionary<string, int> _reading = new(StringComparer.Ordinal);
    private readonly AutoResetEvent _wake = new(false);
    private readonly Thread _thread;
    private readonly Dictionary<string, FileUsage> _files = new(StringComparer.Ordinal);
    private readonly EvictionOrder _order = new();
    private readonly List<TaskCompletionSource> _flushes = [];
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool _stopping;
    private long _treeBytes;
    private int _fileCount;

    public UsageLedger(CacheStore store, UpkeepOptions options, TimeProvider clock)
    {
        _store = store;
        _store.BodyRemoved += Removed;
        _options = options;
        _clock = clock;
        _thread = new Thread(Run) { IsBackground = true, Name = "cache upkeep" };
        if (options.Enabled)
        {
            _thread.Start();
        }
        else
        {
            _ready.SetResult();
        }
    }

    /// <summary>Bytes of the bodies the tree holds, as far as the ledger knows (complete after the start's reconciliation).</summary>
    public long TreeBytes => Interlocked.Read(ref _treeBytes);

    public int FileCount => Volatile.Read(ref _fileCount);

    /// <summary>Files removed to stay under the cap since start.</summary>
    public long Evictions => Interlocked.Read(ref _evictions);

    private long _evictions;

    /// <summary>Completes once the database is open and reconciled with the tree.</summary>
    public Task Ready => _ready.Task;

    /// <summary>A response served from the cache (HIT, STALE, REVALIDATED, OFFLINE): <paramref name="bytes"/> sent.</summary>
    public void Hit(string path, long bytes)
    {
        if (!_options.Enabled)
        {
            return;
        }

        var tally = _tallies.GetOrAdd(Environment.CurrentManagedThreadId, static _ => new Tally());
        var now = Now();
        lock (tally.Lock)
        {
            if (!tally.Hits.TryGetValue(path, out var hit))
            {
                tally.Hits[path] = hit = new HitTally();
            }

            hit.Count++;
            hit.Bytes += bytes;
            hit.Last = now;
        }
    }

    /// <summary>A response whose body came from the origin (MISS).</summary>
    public void Miss(string path, long bytes) => Record(new Usage(Kind.Miss, path, bytes, Now(), FileClass.Other));

    /// <summary>A body committed into the tree.</summary>
    public void Stored(string path, long size, FileClass fileClass)
    {
        Record(new Usage(Kind.Stored, path, size, Now(), fileClass));
        if (_options.MaxSize is not null || _options.MinFree is not null)
        {
            _wake.Set(); // the cap is checked at once, not at the next interval
        }
    }

    /// <summary>A body taken out of the tree (<see cref="CacheStore.BodyRemoved"/>): forgotten at the next pass.</summary>
    private void Removed(string path) => Record(new Usage(Kind.Removed, path, 0, Now(), FileClass.Other));

    /// <summary>Marks <paramref name="path"/> as being read until the result is disposed: it is not evicted meanwhile.</summary>
    public Reader Reading(string path)
    {
        _reading.AddOrUpdate(path, 1, static (_, count) => count + 1);
        return new Reader(this, path);
    }

    /// <summary>Applies and writes everything recorded so far (and evicts if needed); completes when done.</summary>
    public Task FlushAsync()
    {
        if (!_options.Enabled)
        {
            return Task.CompletedTask;
        }

        var flushed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_flushes)
        {
            _flushes.Add(flushed);
        }

        _wake.Set();
        return flushed.Task;
    }

    /// <summary>Per-host totals and files, as the database holds them after a flush (for the status page and the commands).</summary>
    public IReadOnlyList<HostRecord> Hosts()
    {
        using var database = UsageDatabase.Open(_store.Root, _clock, readOnly: true);
        return database.ReadHosts();
    }

    /// <summary>Stops the thread after a last pass, so that nothing recorded is lost.</summary>
    public void Dispose()
    {
        // Once; the wake-up handle stays open: a late hit may still record (it is then simply not written).
        if (_stopping)
        {
            return;
        }

        _stopping = true;
        _store.BodyRemoved -= Removed;
        _wake.Set();
        if (_options.Enabled)
        {
            _thread.Join(TimeSpan.FromSeconds(30));
        }
    }

    private long Now() => _clock.GetUtcNow().ToUnixTimeMilliseconds();

    private void Record(Usage usage)
    {
        if (_options.Enabled)
        {
            _recorded.Enqueue(usage);
        }
    }

    private void Run()
    {
        try
        {
            Reconcile();
            _ready.TrySetResult();
        }
        catch (Exception e)
        {
            Log.Warning("Cache upkeep is off: {Reason:l}", e.Message);
            _ready.TrySetException(e);
            TakeFlushes().ForEach(flush => flush.TrySetResult());
            return;
        }

        var nextExpiry = _clock.GetUtcNow() + _options.ExpireEvery;
        while (true)
        {
            var stopping = _stopping;
            var flushes = TakeFlushes();
            try
            {
                Pass();
                if (_options.Expiry is { } expiry && !stopping && _clock.GetUtcNow() >= nextExpiry)
                {
                    nextExpiry = _clock.GetUtcNow() + _options.ExpireEvery;
                    Expire(expiry);
                }
            }
            catch (Exception e)
            {
                Log.Warning("Cache upkeep: {Reason:l}", e.Message);
            }

            flushes.ForEach(flush => flush.TrySetResult());
            if (stopping)
            {
                return;
            }

            _wake.WaitOne(_options.Interval);
        }
    }

    /// <summary>Loads what the database knows and makes it agree with the tree.</summary>
    private void Reconcile()
    {
        var started = _clock.GetTimestamp();
        // Open only while used: nothing of the cache's file system is held open for writing between passes.
        using var database = UsageDatabase.Open(_store.Root, _clock);
        foreach (var record in database.ReadFiles())
        {
            var file = new FileUsage(record.Path, record.Size, record.Stored, record.LastAccess, record.Class) { Hits = record.Hits, BytesServed = record.BytesServed };
            _files[record.Path] = file;
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        var changed = new List<FileRecord>();
        var adopted = 0;
        foreach (var (path, length, lastWrite) in _store.EnumerateBodies())
        {
            seen.Add(path);
            if (_files.TryGetValue(path, out var known))
            {
                if (known.Size != length)
                {
                    known.Size = length;
                    changed.Add(known.ToRecord());
                }

                continue;
            }

            // Unknown to the database (new, or the database was lost): last used when it was last stored.
            changed.Add(Known(path, length, lastWrite).ToRecord());
            adopted++;
        }

        var gone = _files.Keys.Where(path => !seen.Contains(path)).ToList();
        gone.ForEach(path => _files.Remove(path));
        foreach (var file in _files.Values)
        {
            _order.Add(file);
            _treeBytes += file.Size;
        }

        _fileCount = _files.Count;
        database.Write(changed, gone, []);
        Log.Information("Cache upkeep: {Files} files ({Bytes} bytes) in the tree, read in {Elapsed} ms; {Adopted} adopted, {Gone} gone since last known", _files.Count, _treeBytes, (long)_clock.GetElapsedTime(started).TotalMilliseconds, adopted, gone.Count);
    }

    /// <summary>Applies what was recorded, writes it, and evicts when the tree is over its cap.</summary>
    private void Pass()
    {
        var touched = new Dictionary<string, FileUsage>(StringComparer.Ordinal);
        var removed = new HashSet<string>(StringComparer.Ordinal);
        var hosts = new Dictionary<string, HostRecord>(StringComparer.Ordinal);
        while (_recorded.TryDequeue(out var usage))
        {
            Apply(usage, touched, removed, hosts);
        }

        // The hits after the records: a file stored in this pass is known when its hits are counted.
        foreach (var tally in _tallies.Values)
        {
            Dictionary<string, HitTally> hits;
            lock (tally.Lock)
            {
                hits = tally.Hits;
                tally.Hits = new(ByReference.Instance);
            }

            foreach (var (path, hit) in hits)
            {
                Apply(new Usage(Kind.Hit, path, hit.Bytes, hit.Last, FileClass.Other, hit.Count), touched, removed, hosts);
            }
        }

        Evict(touched, removed);
        if (touched.Count > 0 || removed.Count > 0 || hosts.Count > 0)
        {
            using var database = UsageDatabase.Open(_store.Root, _clock);
            database.Write([.. touched.Values.Select(file => file.ToRecord())], removed, hosts.Values);
        }

        Volatile.Write(ref _fileCount, _files.Count);
    }

    /// <summary>A file of the tree the ledger learns of now: last used when it was last stored (or written).</summary>
    private FileUsage Known(string path, long length, DateTime lastWrite)
    {
        var stored = new DateTimeOffset(_store.MetaWrittenUtc(path) ?? lastWrite).ToUnixTimeMilliseconds();
        return _files[path] = new FileUsage(path, length, stored, stored, FileClass.Other);
    }

    /// <summary>
    /// A file served from the tree that the ledger does not know: another process stored it after this one started
    /// (a `replicator mirror` run on the same root). It counts towards the cap from now on.
    /// </summary>
    private FileUsage? AdoptServed(string path)
    {
        if (_store.BodyStatus(path) is not { } body)
        {
            return null;
        }

        var file = Known(path, body.Length, body.LastWriteUtc);
        _order.Add(file);
        Interlocked.Add(ref _treeBytes, file.Size);
        Volatile.Write(ref _fileCount, _files.Count);
        return file;
    }

    private void Apply(Usage usage, Dictionary<string, FileUsage> touched, HashSet<string> removed, Dictionary<string, HostRecord> hosts)
    {
        _files.TryGetValue(usage.Path, out var file);
        switch (usage.Kind)
        {
            case Kind.Stored:
                if (file is null)
                {
                    file = _files[usage.Path] = new FileUsage(usage.Path, usage.Bytes, usage.Time, usage.Time, usage.Class);
                    _order.Add(file);
                    Interlocked.Add(ref _treeBytes, usage.Bytes);
                }
                else
                {
                    Interlocked.Add(ref _treeBytes, usage.Bytes - file.Size);
                    file.Size = usage.Bytes;
                    file.Stored = usage.Time;
                    _order.Update(file, usage.Time, usage.Class);
                }

                break;
            case Kind.Removed:
                if (file is not null)
                {
                    Forget(file);
                    removed.Add(usage.Path);
                    touched.Remove(usage.Path);
                }

                return;
            case Kind.Hit or Kind.Miss:
                var host = HostOf(usage.Path);
                var totals = hosts.GetValueOrDefault(host) ?? new HostRecord(host, 0, 0, 0, 0);
                hosts[host] = usage.Kind == Kind.Hit
                    ? totals with { Hits = totals.Hits + usage.Count, BytesFromCache = totals.BytesFromCache + usage.Bytes }
                    : totals with { Misses = totals.Misses + usage.Count, BytesFromUpstream = totals.BytesFromUpstream + usage.Bytes };
                if (file is null)
                {
                    if (usage.Kind == Kind.Miss || AdoptServed(usage.Path) is not { } adopted)
                    {
                        return;
                    }

                    file = adopted;
                }

                if (usage.Kind == Kind.Hit)
                {
                    file.Hits += usage.Count;
                    file.BytesServed += usage.Bytes;
                }

                _order.Update(file, Math.Max(file.LastAccess, usage.Time), file.Class);
                break;
        }

        removed.Remove(usage.Path);
        touched[usage.Path] = file!;
    }

    /// <summary>
    /// Over the cap (or under the free space to keep): removes the least recently used files, never one being read,
    /// down to the low-water mark, in one pass.
    /// </summary>
    private void Evict(Dictionary<string, FileUsage> touched, HashSet<string> removed)
    {
        var excess = Excess();
        if (excess <= 0)
        {
            return;
        }

        var started = _clock.GetTimestamp();
        var victims = new List<FileUsage>();
        long freeing = 0;
        foreach (var file in _order.Candidates())
        {
            if (freeing >= excess)
            {
                break;
            }

            if (!_reading.ContainsKey(file.Path))
            {
                victims.Add(file);
                freeing += file.Size;
            }
        }

        long freed = 0;
        foreach (var file in victims)
        {
            var length = _store.Remove(file.Path);
            freed += Math.Max(0, length);
            Forget(file);
            touched.Remove(file.Path);
            removed.Add(file.Path);
        }

        Interlocked.Add(ref _evictions, victims.Count);
        Log.Information("Cache upkeep: evicted {Files} least recently used files ({Bytes} bytes) in {Elapsed} ms; the tree holds {Total} bytes", victims.Count, freed, (long)_clock.GetElapsedTime(started).TotalMilliseconds, TreeBytes);
    }

    /// <summary>The daily expiry (see <see cref="Upkeep.Expiry"/>), on this thread: what it removes is forgotten here too.</summary>
    private void Expire(ExpiryOptions expiry)
    {
        var result = Upkeep.Expiry.Run(_store, _clock, expiry, dryRun: false);

        Log.Information("Cache upkeep: expiry removed {Files} package files that no index lists; {Listed} listed, {Waiting} kept", result.Expired.Count, result.Listed, result.Waiting);
    }

    /// <summary>How many bytes to remove now: 0 while under the cap and above the free space to keep.</summary>
    private long Excess()
    {
        long excess = 0;
        if (_options.MaxSize is { } cap && TreeBytes > cap)
        {
            excess = TreeBytes - (long)(cap * _options.LowWater);
        }

        if (_options.MinFree is { } share)
        {
            var drive = new DriveInfo(_store.Root);
            var (total, free) = (drive.TotalSize, drive.AvailableFreeSpace);
            var wanted = (long)(total * Math.Min(1, share + ((1 - _options.LowWater) * share)));
            if (free < (long)(total * share))
            {
                excess = Math.Max(excess, wanted - free);
            }
        }

        return excess;
    }

    private void Forget(FileUsage file)
    {
        _order.Remove(file);
        _files.Remove(file.Path);
        Interlocked.Add(ref _treeBytes, -file.Size);
    }

    /// <summary>The host a cache path belongs to: its first component (two for https hosts).</summary>
    public static string HostOf(string path)
    {
        var slash = path.IndexOf('/');
        if (slash < 0)
        {
            return path;
        }

        if (path.AsSpan(0, slash).SequenceEqual(CacheLayout.HttpsDirectory))
        {
            var next = path.IndexOf('/', slash + 1);
            return next < 0 ? path : path[..next];
        }

        return path[..slash];
    }

    private List<TaskCompletionSource> TakeFlushes()
    {
        lock (_flushes)
        {
            var taken = _flushes.ToList();
            _flushes.Clear();
            return taken;
        }
    }

    private void EndReading(string path)
    {
        while (_reading.TryGetValue(path, out var count))
        {
            if (count <= 1 ? _reading.TryRemove(new KeyValuePair<string, int>(path, count)) : _reading.TryUpdate(path, count - 1, count))
            {
                return;
            }
        }
    }

    /// <summary>A reader of a body (see <see cref="Reading"/>).</summary>
    public readonly struct Reader(UsageLedger? ledger, string path) : IDisposable
    {
        public void Dispose() => ledger?.EndReading(path);
    }
}
