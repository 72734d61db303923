using System.Globalization;
using Replicator.Cache;
using Replicator.Fibers;
using Replicator.Http;
using Serilog;

namespace Replicator.Proxy;

/// <summary>
/// One upstream body being written into the cache by its own fiber, shared by every client of its URL.
///
///   (1) the first client registers it and asks the origin, resuming what an earlier download left
///       (Range: bytes=N- with If-Range); clients arriving meanwhile wait for the answer's head;
///   (2) 206 that fits: append; 200: start over; 412, 416 or a Content-Range that does not fit: discard and ask again
///       without Range; a response that may not be stored: the first client relays it, the others ask on their own;
///   (3) the body is pumped by a fiber of its own (so no client's pace, or departure, holds it up) into a bounded
///       ring in memory, and written behind into the partial file off the loop (see Download.WriteBehind.cs);
///       clients follow the ring or the file, woken by <see cref="Progress"/>, so memory does not grow with the
///       number or slowness of readers;
///   (4) when the last client has gone, the download goes on only if it is more than half done or smaller than
///       --finish-below; otherwise it stops and its partial stays, to be resumed by the next request;
///   (5) complete (every announced byte, or a chunked body that ended properly): moved into the tree
///       (<see cref="CacheStore.CommitAsync"/>); a body that ends short is never moved in.
/// Storage failing (a full disk, a read-only root) never costs a client its answer: before the body, the response is
/// passed through uncached; during it, the partial is removed, abandoned partials are deleted to free space, and the
/// rest of the body is kept in memory for the clients following it (up to <see cref="MemoryTail.MaxBytes"/>); the body is
/// then served whole but not stored, and <see cref="StorageHealth"/> pauses new downloads for a while.
/// </summary>
internal sealed partial class Download
{
    /// <summary>Every this many bytes, writeback of the body so far is started (see <see cref="PartialBody.StartWriteback"/>).</summary>
    private const long WritebackStep = 16 * 1024 * 1024;

    private readonly TaskCompletionSource _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private MemoryTail? _tail;
    private int _finished;

    private readonly ProxyServer _server;
    private PartialBody? _partial;
    private long _writebackStarted;
    private long _available;
    private int _references = 1;
    private volatile DownloadState _state = DownloadState.Pending;

    /// <summary>A body the indexes vouch for, up to this size, reaches its clients only once verified (so that a
    /// mismatch can be answered 502, not cut off); a larger one streams, and a mismatch cuts its clients.</summary>
    public const long VerifyBeforeServingBelow = 64L << 20;

    /// <param name="fileClass">The URL's file class: only a package or an index can be described by the package indexes.</param>
    public Download(ProxyServer server, RequestUrl url, string relativePath, FileClass fileClass)
    {
        _server = server;
        Url = url;
        RelativePath = relativePath;
        Key = CacheLayout.RelativePath(url) ?? relativePath;
        _fileClass = fileClass;
    }

    /// <summary>A package or an index (by its file class): the package indexes may describe it, so they are waited for.</summary>
    private bool MayBeListed => _fileClass != FileClass.Other;

    private readonly FileClass _fileClass;

    private enum DownloadState
    {
        Pending,
        Streaming,
        Complete,
        Failed,
        Declined,
    }

    public RequestUrl Url { get; }

    public string RelativePath { get; }

    /// <summary>The URL's natural cache path (before --alias or --flat): what the package indexes know it by.</summary>
    public string Key { get; }

    /// <summary>True when clients get the head only once the body is complete and verified (see <see cref="VerifyBeforeServingBelow"/>).</summary>
    public bool HoldsHead { get; private set; }

    /// <summary>The response as it is stored; null until the origin's head arrived.</summary>
    public StoredResponse? Stored { get; private set; }

    /// <summary>The body's full length, or null (chunked or close-delimited) until it has ended.</summary>
    public long? Length { get; private set; }

    public Microsoft.Win32.SafeHandles.SafeFileHandle File => _partial!.Handle;

    /// <summary>Where the body continues in memory instead of the file (the disk refused it), or null.</summary>
    public MemoryTail? Tail => Volatile.Read(ref _tail);

    /// <summary>Bytes of the body received so far, from offset 0 (in the ring, the file or the memory tail).</summary>
    public long Available => Interlocked.Read(ref _available);

    public bool IsPending => _state == DownloadState.Pending;

    /// <summary>Where the body continued from (a resumed download), or 0.</summary>
    public long ResumedFrom { get; private set; }

    /// <summary>When the body began to arrive (the proxy's clock's timestamp), for a rate.</summary>
    public long StartedAt { get; private set; }

    /// <summary>Clients following the download now (the writer's own reference left out).</summary>
    public int Clients => Math.Max(0, Volatile.Read(ref _references) - 1);

    /// <summary>True when this download will not deliver the body (declined, or failed before its head).</summary>
    public bool IsUnavailable => _state == DownloadState.Declined || (_state == DownloadState.Failed && Stored is null);

    public bool Complete => _state == DownloadState.Complete;

    /// <summary>
    /// Every byte of the body has arrived (and, for a file the package indexes describe, been verified): clients may
    /// have the last byte, while the commit into the tree may still be running.
    /// </summary>
    public bool BodyReceived => _bodyReceived || Complete;

    private volatile bool _bodyReceived;

    private void MarkReceived()
    {
        _server.Downloads.CommitStarted();
        _bodyReceived = true;
        Progress.Raise();
    }

    public Exception? Error { get; private set; }

    /// <summary>Raised (on the joining client's loop) whenever a reader takes a reference: tests know a client is in.</summary>
    public event Action? Joined;

    /// <summary>Completes when the download has ended (declined, failed, stopped or stored).</summary>
    public Task Completion => _ended.Task;

    /// <summary>Raised when the head is known, whenever bytes land, and at the end.</summary>
    public FiberSignal Progress { get; } = new();

    /// <summary>
    /// Takes a reference for a reader; false when the download is over and its file closed. The file stays open
    /// (even once renamed into the tree, or deleted) until the writer and every reader have let go.
    /// </summary>
    public bool TryAcquire()
    {
        var references = Volatile.Read(ref _references);
        while (references > 0)
        {
            var seen = Interlocked.CompareExchange(ref _references, references + 1, references);
            if (seen == references)
            {
                Drained.Raise(); // a pump held by an only client runs free once there are two
                Joined?.Invoke();
                return true;
            }

            references = seen;
        }

        return false;
    }

    public void Release()
    {
        if (Interlocked.Decrement(ref _references) == 0)
        {
            _partial?.Dispose();
        }
    }

    /// <summary>
    /// Steps (1) and (2), run by the first client. Returns null when the body is being downloaded (serve it with
    /// <see cref="Responder.ServeDownloadAsync"/>), or the origin's response when it may not be stored: relay it.
    /// </summary>
    public async ValueTask<OriginResponse?> BeginAsync(Exchange exchange, HttpHeaders endToEnd)
    {
        try
        {
            (long Length, StoredResponse Response)? existing = null;
            if (!TryStorage(() => existing = _server.Store.FindResumable(RelativePath), "reading the partial body"))
            {
                return await PassUncachedAsync(exchange, endToEnd);
            }

            if (existing is not null && _server.Store.IsPartialBusy(RelativePath))
            {
                // Another process (a mirror run on this root) is downloading it now: its partial is not ours to resume.
                // (A partial with nothing to resume needs no look: creating ours finds it locked, see OpenPartial.)
                Log.Information("Not storing {Url:l}: another process is downloading it into this cache", Url.ToString());
                return await PassUncachedAsync(exchange, endToEnd);
            }

            var resumeFrom = existing?.Length ?? 0;
            while (true)
            {
                var headers = resumeFrom > 0 ? Resume.Request(endToEnd, resumeFrom, existing!.Value.Response) : endToEnd.Clone();

                var requestTime = _server.Clock.GetUtcNow();
                var (upstream, response) = await _server.Origin.ExchangeAsync(exchange, "GET", headers, Framing.None);
                if (resumeFrom > 0 && response.Status is 206 or 412 or 416 && !Resume.Continues(response, resumeFrom))
                {
                    Log.Information("Cannot resume {Url:l} at byte {Offset} ({Status}): starting over", Url.ToString(), resumeFrom, response.Status);
                    upstream.Dispose();
                    resumeFrom = 0;
                    continue;
                }

                var resumed = resumeFrom > 0 && response.Status == 206;
                if (!resumed && !(response.Status == 200 && Freshness.IsStorable(exchange.Request, response)))
                {
                    Finish(DownloadState.Declined, null);
                    return new OriginResponse(upstream, response);
                }

                return await StartAsync(exchange, new OriginResponse(upstream, response), requestTime, resumed ? resumeFrom : 0, endToEnd);
            }
        }
        catch (Exception e)
        {
            Finish(DownloadState.Failed, e);
            throw;
        }
    }

    /// <summary>
    /// Starts storing a body the origin has answered (a 200 that may be stored, or a 206 that continues the partial
    /// from <paramref name="resumeFrom"/>): the partial is created, and a fiber pumps the body into it. Null when it
    /// runs; the answer to relay when the cache cannot take it. Called by <see cref="BeginAsync"/>, and by a
    /// revalidation answered with a new body, which asked the origin itself.
    /// </summary>
    public async ValueTask<OriginResponse?> StartAsync(Exchange exchange, OriginResponse answer, DateTimeOffset requestTime, long resumeFrom, HttpHeaders endToEnd)
    {
        try
        {
            var (upstream, response) = answer;
            var resumed = resumeFrom > 0;
            var framing = response.BodyFraming("GET");
            Length = resumed ? Resume.Total(response) : framing.Kind == BodyKind.Length ? framing.Length : null;
            var stored = Stored = StoredResponse.FromOrigin(response, exchange.Request.Headers, Url.ToString(), Length ?? -1, requestTime, _server.Clock.GetUtcNow());

            // Only now, with a body to store, is a partial created (or the one resumed reopened).
            if (!TryStorage(() => _partial = _server.Store.OpenPartial(RelativePath, stored, resumeFrom), "starting the partial body"))
            {
                Stored = null;
                if (!resumed)
                {
                    Finish(DownloadState.Declined, null);
                    return answer;
                }

                // A 206 answers our resume, not the client: ask again for the whole body.
                upstream.Dispose();
                return await PassUncachedAsync(exchange, endToEnd);
            }

            if (MayBeListed && _server.Indexes.IsLearning)
            {
                // An index stored a moment ago is still being read: what it says of this file is about to be known.
                await exchange.Fiber.RunBlockingAsync(_server.Indexes.WaitSettled, Timeout.InfiniteTimeSpan);
            }

            var expected = _server.Indexes.Expect(Key);
            HoldsHead = expected is not null && (Length ?? expected.Size ?? long.MaxValue) <= VerifyBeforeServingBelow;
            Interlocked.Exchange(ref _available, resumeFrom);
            StartRing(exchange.Fiber.Loop, resumeFrom);
            (ResumedFrom, StartedAt) = (resumeFrom, _server.Clock.GetTimestamp());
            if (resumed)
            {
                Log.Information("Resuming {Url:l} at byte {Offset} of {Length}", Url.ToString(), resumeFrom, Length);
            }

            _state = DownloadState.Streaming;
            Progress.Raise();
            exchange.Fiber.Loop.Spawn($"download {Url}", fiber => PumpAsync(fiber, upstream, response, framing));
            return null;
        }
        catch (Exception e)
        {
            Finish(DownloadState.Failed, e);
            throw;
        }
    }

    /// <summary>
    /// Runs the cache's part of a download; false when the cache cannot take it: writes paused after a failure, the
    /// storage failing now (reported once to <see cref="StorageHealth"/>), or a symbolic link on the way.
    /// </summary>
    private bool TryStorage(Action operation, string what)
    {
        var health = _server.Store.Health;
        if (!health.MayWrite)
        {
            return false;
        }

        try
        {
            operation();
            return true;
        }
        catch (TreeLinkException e)
        {
            Log.Warning("Not storing {Url:l}: {Reason:l}", Url.ToString(), e.Message);
            return false;
        }
        catch (PartialBusyException e)
        {
            // A mirror run (or another proxy) on the same root stores it: this answer goes through uncached.
            Log.Information("Not storing {Url:l}: {Reason:l}", Url.ToString(), e.Message);
            return false;
        }
        catch (Exception e) when (StorageHealth.IsStorageError(e))
        {
            health.Failed($"{what} of {Url}", e);
            return false;
        }
    }

    /// <summary>The cache cannot take the body: the origin's answer to a plain GET, to be relayed uncached.</summary>
    private async ValueTask<OriginResponse> PassUncachedAsync(Exchange exchange, HttpHeaders endToEnd)
    {
        // Clients waiting on this download ask on their own, at once.
        Finish(DownloadState.Declined, null);
        return await _server.Origin.ExchangeAsync(exchange, "GET", endToEnd.Clone(), Framing.None);
    }

    /// <summary>Ends the download (declined, failed, or pumped to its end) and lets go of the writer's reference; once.</summary>
    private void Finish(DownloadState state, Exception? error)
    {
        if (Interlocked.Exchange(ref _finished, 1) != 0)
        {
            return;
        }

        Error = error;
        // Out of the registry first: whoever sees the end finds the body in the tree, not this download.
        _server.Downloads.Remove(this);
        _state = state;
        Progress.Raise();
        Release();
        if (_bodyReceived)
        {
            _server.Downloads.CommitEnded();
        }

        _ended.TrySetResult();
    }
}
