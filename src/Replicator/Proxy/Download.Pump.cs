using System.Globalization;
using Replicator.Cache;
using Replicator.Cache.Packages;
using Replicator.Fibers;
using Replicator.Http;
using Serilog;

namespace Replicator.Proxy;

/// <summary>
/// Steps (3) to (5) of a download: its own fiber pumps the body into the partial (or, once the disk refuses it, into
/// a <see cref="MemoryTail"/>), stops when every client left a download not worth finishing, and commits a whole
/// body into the tree.
/// </summary>
internal sealed partial class Download
{
    private async ValueTask PumpAsync(Fiber fiber, UpstreamConnection origin, ResponseHead response, Framing framing)
    {
        UpstreamConnection? upstream = origin; // null once its body is read and it is handed back
        var reader = new BodyReader(origin.Connection, framing);
        var pacer = _server.Origin.PacerFor(fiber);
        var state = DownloadState.Failed;
        Exception? error = null;
        try
        {
            while (await reader.ReadAsync(fiber, _server.Options.Timeout, static (piece, state) => state.Download.Write(state.Fiber, piece), (Download: this, Fiber: fiber)))
            {
                if (pacer is not null)
                {
                    await pacer.PaceAsync(fiber, reader.Read);
                }

                // Let the readers woken by this piece run (and notice a client that left) before the next piece.
                await fiber.YieldAsync();
                if (Volatile.Read(ref _references) == 1 && !WorthFinishing())
                {
                    throw new IOException("every client left and the download is less than half done; its partial stays for resuming");
                }
            }

            var received = Available;
            if (Length is { } announced && received != announced)
            {
                throw new IOException($"received {received} of {announced} bytes");
            }

            OriginClient.Release(origin, response, framing);
            upstream = null;
            Length = received;
            var checkedFirst = MayBeListed || _server.Indexes.Describes(Key);
            if (!checkedFirst)
            {
                // Nothing checks this body: clients on this loop may have its last byte from the ring now, the
                // others as the file gets it; the commit follows without them.
                MarkReceived();
            }

            await FlushAsync(fiber);
            var stored = Stored! with { Length = received };
            var partial = _partial!;
            if (Tail is not null)
            {
                Log.Warning("Served {Url:l} whole ({Bytes} bytes) but did not store it: the disk refused it", Url.ToString(), received);
            }
            else if (_server.CacheOptions.Mapping.Flat && _server.Store.Lookup(RelativePath) is { } other && _server.CacheOptions.Mapping.HeldByAnother(other.Response.Url, Url))
            {
                // --flat: another URL's file has this name; it is never overwritten.
                _server.Store.Discard(partial);
                Log.Warning("--flat: {Name:l} holds {Other:l}; {Url:l} was served but not stored", RelativePath, other.Response.Url ?? "a file put there by hand", Url.ToString());
            }
            else
            {
                stored = await VerifyAsync(fiber, partial, stored);
                if (checkedFirst)
                {
                    // Every byte is here and verified: the clients get their last byte now.
                    MarkReceived();
                }

                // The commit (fsync, rename) runs without the clients waiting. Until it is done the body is not in
                // the tree, so a crash in between leaves a partial to resume, never a torn file.
                await CommitAsync(partial, stored);
            }

            state = DownloadState.Complete;
        }
        catch (Exception e)
        {
            // The partial stays: the next request for this URL resumes it.
            error = e;
            upstream?.Dispose();
            Log.Warning("Download of {Url:l} stopped after {Bytes} bytes: {Reason:l}", Url.ToString(), Available, e.Message);
        }
        finally
        {
            try
            {
                // Whatever arrived goes into the partial, so that the next request resumes after it.
                await FlushAsync(fiber, spill: false);
            }
            finally
            {
                EndRing();
                Finish(state, error);
            }
        }
    }

    /// <summary>
    /// A body the repository's indexes describe is checked against them (issue 12), off the loop: one that does not
    /// match never enters the tree (its partial is dropped), and the download fails with the reason.
    /// </summary>
    private async ValueTask<StoredResponse> VerifyAsync(Fiber fiber, PartialBody partial, StoredResponse stored)
    {
        var indexes = _server.Indexes;
        if (!MayBeListed && !indexes.Describes(Key))
        {
            // What Verify finds without waiting for a file no index may list, found on the loop: a plain file (a
            // page, a mirrored tree's file) costs no trip to the thread pool and back.
            return stored;
        }

        try
        {
            return await fiber.RunBlockingAsync(() => stored with { Sha256 = indexes.Verify(Key, partial.Handle, stored.Length, MayBeListed) }, Timeout.InfiniteTimeSpan);
        }
        catch (UnverifiedBodyException e)
        {
            _server.Metrics.VerificationFailed();
            _server.Store.Discard(partial);
            Log.Warning("Not stored {Url:l}: {Reason:l}", Url.ToString(), e.Message);
            throw;
        }
    }

    /// <summary>
    /// Step (5). The commit flushes the body to disk, which can take a while: by the store's group commit, off the
    /// loop, which keeps serving everyone else. Its storage failing (no room for the metadata, a tree gone
    /// read-only) is not the download's: every client still gets the whole body, which is just not stored.
    /// </summary>
    private async ValueTask CommitAsync(PartialBody partial, StoredResponse stored)
    {
        var store = _server.Store;
        try
        {
            if (await store.CommitAsync(partial, stored))
            {
                store.Health.Succeeded();
                store.RemoveAnswer(RelativePath); // a 301 or 404 stored before is no longer the answer
                Log.Information("Stored {Url:l} ({Bytes} bytes)", Url.ToString(), stored.Length);
                _server.Usage.Stored(RelativePath, stored.Length, _fileClass);
                var body = store.BodyPath(RelativePath);
                _server.Indexes.Learn(Key, stored.Length, stored.BodyStamp, () => store.Tree.OpenForReading(body));
            }
            else
            {
                store.Discard(partial);
                Log.Warning("Not stored {Url:l}: a file, a directory or a symbolic link of the cache tree stands in the way", Url.ToString());
            }
        }
        catch (Exception e) when (StorageHealth.IsStorageError(e))
        {
            store.Health.Failed($"storing {Url}", e);
            store.Discard(partial);
        }
    }

    private bool WorthFinishing() => Length is { } length
        ? Available * 2 >= length || length <= _server.CacheOptions.FinishBelow
        : Available <= _server.CacheOptions.FinishBelow;
}
