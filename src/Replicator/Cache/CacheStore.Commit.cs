namespace Replicator.Cache;

/// <summary>A complete partial body waiting to be moved into the tree, with what it answers to.</summary>
internal sealed class PendingCommit(PartialBody partial, StoredResponse stored)
{
    public PartialBody Partial { get; } = partial;

    public StoredResponse Stored { get; } = stored;

    /// <summary>True once in the tree; false when the tree stands in the way (the partial is dropped); faulted when storage failed.</summary>
    public TaskCompletionSource<bool> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Where the body goes in the tree.</summary>
    internal string Body { get; set; } = "";

    /// <summary>The metadata written beside its final place, to be renamed over it; null when it has no place.</summary>
    internal string? MetaAside { get; set; }
}

/// <summary>
/// Steps (3) to (5) of the write protocol (see <see cref="CacheStore"/>) for one complete body or for a batch of them.
/// Why batches: on a mirror of many small files (or a LAN fetching many at once), an fsync of each body, of each
/// metadata file and of each directory is one disk request and one wait each, and came to a third of the time of a
/// small miss. A batch makes every body and metadata file durable with one syncfs(2), renames them all, then fsyncs
/// each directory once. The order per body is the same as alone: nothing enters the tree before its bytes are on
/// disk, so a crash at any point leaves a partial to fetch again, never a torn file. Batches form by themselves (see
/// <see cref="GroupCommit"/>): a commit arriving while the disk is busy with another waits for the next flush.
/// </summary>
internal sealed partial class CacheStore
{
    private GroupCommit? _groupCommit;

    /// <summary>
    /// Moves a complete partial body into the tree with its metadata, by the store's group commit: completes once the
    /// body is in the tree (true), was refused by the tree (false: a file where a directory is needed, or a directory
    /// where the file goes; nothing cached is touched, the partial is dropped), or could not be stored (faulted). The
    /// caller holds no thread while it waits.
    /// </summary>
    public Task<bool> CommitAsync(PartialBody partial, StoredResponse stored)
    {
        var pending = new PendingCommit(partial, stored);
        LazyInitializer.EnsureInitialized(ref _groupCommit, () => new GroupCommit(CommitBatch)).Enqueue(pending);
        return pending.Done.Task;
    }

    /// <summary>Test seam: runs on the committing thread before each batch, with its size.</summary>
    internal Action<int>? BeforeCommitBatch { get; set; }

    /// <summary>Commits every body of <paramref name="batch"/>, completing each one's <see cref="PendingCommit.Done"/>.</summary>
    internal void CommitBatch(IReadOnlyList<PendingCommit> batch)
    {
        BeforeCommitBatch?.Invoke(batch.Count);
        // Alone: an fsync of its own files (the metadata's as it is written) is cheaper than a flush of the whole
        // file system.
        var alone = batch.Count == 1;
        var prepared = batch.Where(pending => Prepare(pending, flushMeta: alone)).ToList();
        try
        {
            if (alone && prepared.Count == 1)
            {
                NativeFile.Sync(prepared[0].Partial.Handle);
            }
            else if (prepared.Count > 0)
            {
                // The partials and the metadata both live below ROOT/.replicator: one file system.
                NativeFile.SyncFileSystem(prepared[0].Partial.Handle);
            }
        }
        catch (Exception e)
        {
            foreach (var pending in prepared)
            {
                Abandon(pending, e);
            }

            return;
        }

        var published = prepared.Where(Publish).ToList();
        foreach (var directory in published.Select(pending => _fs.Path.GetDirectoryName(pending.Body)!).Distinct(StringComparer.Ordinal))
        {
            NativeFile.SyncDirectory(directory);
        }

        foreach (var pending in published)
        {
            pending.Done.TrySetResult(true);
        }
    }

    /// <summary>Step (3), but the body's flush (and the metadata's unless <paramref name="flushMeta"/>): false when the body cannot go in (completed then).</summary>
    private bool Prepare(PendingCommit pending, bool flushMeta)
    {
        var (partial, stored) = (pending.Partial, pending.Stored);
        pending.Body = BodyPath(partial.RelativePath);
        try
        {
            if (!CanPlace(pending.Body))
            {
                Discard(partial);
                pending.Done.TrySetResult(false);
                return false;
            }

            _fs.File.SetLastWriteTimeUtc(partial.Path, stored.BodyStamp.UtcDateTime);
            pending.MetaAside = WriteMetaAside(partial.RelativePath, stored, flushMeta);
            return true;
        }
        catch (Exception e)
        {
            Abandon(pending, e);
            return false;
        }
    }

    /// <summary>Steps (4) and (5) but the directory's fsync: false when it failed (completed then).</summary>
    private bool Publish(PendingCommit pending)
    {
        var partial = pending.Partial;
        try
        {
            _known.TryRemove(partial.RelativePath, out _);
            var aside = pending.MetaAside;
            if (aside is not null)
            {
                _fs.File.Move(aside, MetaPath(partial.RelativePath), overwrite: true);
                pending.MetaAside = null;
            }

            _fs.File.Move(partial.Path, pending.Body, overwrite: true);
            NativeFile.Unlock(partial.Handle); // in the tree now: no other process can take it for a partial any more
            DeleteQuietly(partial.MetaPath);
            if (aside is not null)
            {
                Remember(partial.RelativePath, pending.Stored);
            }

            return true;
        }
        catch (Exception e)
        {
            Abandon(pending, e);
            return false;
        }
    }

    /// <summary>Storage failed for this body: its metadata written aside goes; the caller drops the partial.</summary>
    private void Abandon(PendingCommit pending, Exception error)
    {
        if (pending.MetaAside is { } aside)
        {
            DeleteQuietly(aside);
        }

        pending.Done.TrySetException(error);
    }

    /// <summary>Writes the metadata of <paramref name="relativePath"/> beside its place; null when a file or link stands in its way.</summary>
    private string? WriteMetaAside(string relativePath, StoredResponse stored, bool flush)
    {
        var path = MetaPath(relativePath);
        return CanPlace(path) ? WriteAside(path, stored.Serialize(), [], flush) : null;
    }
}
