using Replicator.Cache;
using Replicator.Http;
using Serilog;

namespace Replicator.Proxy;

/// <summary>
/// GET and HEAD through the cache.
///
///   (1) not storable as a path, or the client says no-store      -> pass through
///   (2) the URL is downloading now                              -> follow that download       (MISS)
///   (3) stored, and offline / --static / fresh                  -> serve it                   (OFFLINE / HIT)
///   (4) stored but stale                                        -> conditional GET upstream:
///         304 -> refresh the metadata, serve it (REVALIDATED); 200 -> download anew (MISS);
///         unreachable -> serve it anyway (STALE) unless must-revalidate (504); other -> pass through
///   (5) not stored                                              -> GET upstream without the client's validators
///         storable 200 -> download into the cache and serve it while it lands (MISS); other -> pass through
/// HEAD is answered from a stored entry that may be served as it is, and passed through otherwise.
/// </summary>
internal static class CacheHandler
{
    private static readonly HashSet<string> s_clientValidators = new(StringComparer.OrdinalIgnoreCase)
    {
        "If-Modified-Since", "If-None-Match", "If-Range", "If-Match", "If-Unmodified-Since", "Range",
    };

    /// <summary>On a miss the whole body is asked for (to store it): of the client's validators, only If-None-Match goes along.</summary>
    private static readonly HashSet<string> s_notForwardedOnMiss = new(StringComparer.OrdinalIgnoreCase)
    {
        "If-Modified-Since", "If-Range", "If-Match", "If-Unmodified-Since", "Range",
    };

    /// <summary>Answers a GET or HEAD; returns the outcome the access log shows.</summary>
    public static async ValueTask<string> HandleAsync(Exchange exchange)
    {
        try
        {
            return await HandleOnceAsync(exchange);
        }
        catch (CacheEntryChangedException e) when (!exchange.ResponseStarted)
        {
            // A stored body changed behind our back (replaced or edited by hand) between the lookup and the serving,
            // whichever way it was being served (hit, stale, revalidated): forget it and decide again from the disk.
            Log.Information("Cached {Url:l} changed: {Reason:l}", exchange.Url!.ToString(), e.Message);
            exchange.Server.Store.Forget(e.RelativePath);
            return await HandleOnceAsync(exchange);
        }
        catch (ProxyException e) when (e.Step == FailedStep.Unverified && !exchange.ResponseStarted)
        {
            // The origin's bytes do not match the repository's indexes: asked once more (a mirror caught mid-sync
            // or a transfer damaged on the way); a second mismatch is the client's 502.
            Log.Warning("Fetching {Url:l} once more: {Reason:l}", exchange.Url!.ToString(), e.Message);
            return await HandleOnceAsync(exchange);
        }
    }

    private static async ValueTask<string> HandleOnceAsync(Exchange exchange)
    {
        var server = exchange.Server;
        var cache = server.CacheOptions;
        var request = exchange.Request;
        var url = exchange.Url!;
        var key = CacheLayout.RelativePath(url);
        var relativePath = key is null ? null : cache.Mapping.Map(key);
        if (relativePath is null || CacheControl.Parse(request.Headers).Has("no-store"))
        {
            return await Forwarder.PassThroughAsync(NotOnlyIfCached(exchange));
        }

        exchange.CachePath = relativePath;
        if (server.Downloads.Find(relativePath) is { } running)
        {
            // A download whose body is all here (being committed) answers as the tree soon will: a hit.
            var whole = running.BodyReceived;
            if (await TryJoinAsync(NotOnlyIfCached(exchange), running))
            {
                exchange.FileClass = cache.Classes.Classify(url.Path, url.Query);
                return whole ? Outcomes.Hit : Outcomes.Miss;
            }
        }

        var entry = server.Store.Lookup(relativePath);
        var fileClass = exchange.FileClass = entry is null ? cache.Classes.Classify(url.Path, url.Query) : cache.Classes.Of(entry.Response, url.Path, url.Query);
        var heuristic = cache.HeuristicFor(fileClass);
        if (entry is null && fileClass != FileClass.Immutable && server.Store.LookupAnswer(relativePath) is { } answer
            && answer.Response.MatchesVary(request.Headers)
            && (cache.Offline || cache.Static || Freshness.IsFresh(answer.Response, request.Headers, server.Clock.GetUtcNow(), heuristic)))
        {
            // A stored 301, 404...: served with its status while fresh (RFC 9111 section 4). Never for a package
            // file: a 404 for one is a mirror not yet in sync, and is asked again.
            await Responder.ServeAnswerAsync(exchange, answer.Response, answer.Body);
            return cache.Offline ? Outcomes.Offline : Outcomes.Hit;
        }

        if (entry is not null && cache.Mapping.HeldByAnother(entry.Response.Url, url))
        {
            // --flat: this name holds another URL's file, which is never served for this one nor overwritten.
            Log.Warning("--flat: {Name:l} holds {Other:l}; {Url:l} is passed through uncached", relativePath, entry.Response.Url ?? "a file put there by hand", url.ToString());
            return await Forwarder.PassThroughAsync(NotOnlyIfCached(exchange));
        }

        if (entry is not null && !entry.Response.MatchesVary(request.Headers))
        {
            // Stored for another variant: answer this one without disturbing what is stored.
            return await Forwarder.PassThroughAsync(NotOnlyIfCached(exchange));
        }

        // A package file cannot change under its name: whatever the client's Cache-Control asks (apt sends max-age=0
        // with every request), it can only mean these bytes. An index is never fresh: it is always revalidated.
        if (entry is not null && (cache.Offline || cache.Static || fileClass == FileClass.Immutable
            || (fileClass != FileClass.Volatile && Freshness.IsFresh(entry.Response, request.Headers, server.Clock.GetUtcNow(), heuristic))))
        {
            Log.Debug("{Path:l} is in the cache and may be served as it is", relativePath);
            NoticeIndex(server, key!, fileClass, entry);
            // A large body is read for a while: the size cap's eviction leaves it alone meanwhile.
            using var reading = entry.Length > Responder.SmallBody ? server.Usage.Reading(relativePath) : default;
            await Responder.ServeEntryAsync(exchange, entry, entry.Response);
            return cache.Offline ? Outcomes.Offline : Outcomes.Hit;
        }

        if (entry is not null && fileClass != FileClass.Volatile && request.Method == "GET" && Freshness.MayServeStaleWhileRevalidating(entry.Response, request.Headers, server.Clock.GetUtcNow()))
        {
            BackgroundRevalidation.Start(exchange, entry, relativePath);
            await Responder.ServeEntryAsync(exchange, entry, entry.Response);
            return Outcomes.Stale;
        }

        if (request.Method == "HEAD")
        {
            return await HeadThroughAsync(NotOnlyIfCached(exchange), entry, relativePath);
        }

        if (entry is not null && fileClass == FileClass.Volatile)
        {
            if (server.Indexes.IsLearning)
            {
                // A Release stored a moment ago is still being read: what it says of this index is about to be known.
                await exchange.Fiber.RunBlockingAsync(server.Indexes.WaitSettled, Timeout.InfiniteTimeSpan);
            }

            // An index without validators cannot be revalidated: fetched again, as one download for every client
            // asking meanwhile (a conditional GET each would be one origin request each). So is one that a newer
            // Release lists with another hash: its stored copy is of another generation, whatever a 304 would say.
            if (entry.Response is { ETag: null, LastModified: null } || server.Indexes.IsOutOfStep(key!, entry.Response))
            {
                Log.Debug("{Path:l} is an index without validators or of another generation: fetching it again", relativePath);
                return await FetchAsync(NotOnlyIfCached(exchange), relativePath, request.Headers.EndToEnd(s_clientValidators.Contains));
            }
        }

        if (entry is not null)
        {
            Log.Debug("{Path:l} is in the cache but stale: revalidating", relativePath);
            return await RevalidateAsync(NotOnlyIfCached(exchange), entry, relativePath);
        }

        // Nothing stored: the client's If-None-Match goes to the origin, so a client that has the body gets the
        // origin's 304 (passed on, nothing stored); a 200 is stored as any (RFC 9111 section 4.3.2). Its
        // If-Modified-Since does not: apt asks with it for every index it has, and a mirror being filled must get
        // those bodies, not 304s.
        return await FetchAsync(NotOnlyIfCached(exchange), relativePath, request.Headers.EndToEnd(s_notForwardedOnMiss.Contains));
    }

    /// <summary>
    /// A HEAD the cache could not answer goes to the origin; its 200 refreshes what is stored when it describes the
    /// same representation (same validators and length), and marks it for validation when it does not (RFC 9111
    /// section 4.3.5).
    /// </summary>
    private static async ValueTask<string> HeadThroughAsync(Exchange exchange, CachedEntry? entry, string relativePath)
    {
        var server = exchange.Server;
        var requestTime = server.Clock.GetUtcNow();
        var answer = await server.Origin.ExchangeAsync(exchange, "HEAD", exchange.Request.Headers.EndToEnd(), Framing.None);
        if (entry is { Response.Synthesized: false } && answer.Head.Status == 200)
        {
            var stored = entry.Response;
            var head = answer.Head;
            var same = string.Equals(head.Headers["ETag"], stored.ETag, StringComparison.Ordinal)
                && (stored.ETag is not null || string.Equals(head.Headers["Last-Modified"], stored.Headers["Last-Modified"], StringComparison.Ordinal))
                && (head.Headers["Content-Length"] is not { } length || length == entry.Length.ToString(System.Globalization.CultureInfo.InvariantCulture));
            var updated = same ? stored.Refreshed(head.Headers, requestTime, server.Clock.GetUtcNow()) : stored with { Invalidated = true };
            await CacheWrites.TryAsync(exchange.Fiber, server.Store, () => server.Store.UpdateMeta(relativePath, updated), $"updating the metadata of {exchange.Url}");
        }

        await Forwarder.RelayResponseAsync(exchange, answer);
        return Outcomes.Pass;
    }

    /// <summary>
    /// A package index served from the tree is read into the catalog the first time after a start (issue 12): what
    /// it lists is then verified when downloaded. Only indexes and by-hash files can be one; other hits pay nothing.
    /// </summary>
    private static void NoticeIndex(ProxyServer server, string key, FileClass fileClass, CachedEntry entry)
    {
        if (fileClass != FileClass.Other)
        {
            LearnIndex(server, key, entry);
        }
    }

    /// <summary>Apart from <see cref="NoticeIndex"/>, so that the closure it captures is made only for package files, not on every hit.</summary>
    private static void LearnIndex(ProxyServer server, string key, CachedEntry entry)
    {
        var store = server.Store;
        server.Indexes.Learn(key, entry.Length, entry.Response.BodyStamp, () => store.Tree.OpenForReading(entry.BodyPath));
    }

    /// <summary>
    /// The request is about to need the origin: with only-if-cached the client wants the cache's answer or none,
    /// a 504 (RFC 9111 section 5.2.1.7).
    /// </summary>
    private static Exchange NotOnlyIfCached(Exchange exchange) =>
        CacheControl.Parse(exchange.Request.Headers).Has("only-if-cached")
            ? throw new ProxyException(FailedStep.NotCached, $"only-if-cached: {exchange.Url} is not in the cache, fresh")
            : exchange;

    /// <summary>
    /// The fields of a conditional GET for a stored response: the client's own, less its validators and range, with
    /// the stored ETag (If-None-Match) and date (If-Modified-Since) instead (RFC 9111 section 4.3.1).
    /// </summary>
    public static HttpHeaders RevalidationFields(RequestHead request, StoredResponse stored)
    {
        var headers = request.Headers.EndToEnd(s_clientValidators.Contains);
        if (stored.ETag is { } etag)
        {
            headers.Add("If-None-Match", etag);
        }

        headers.Add("If-Modified-Since", HttpDate.Format(stored.LastModified ?? stored.BodyStamp));
        return headers;
    }

    private static async ValueTask<string> RevalidateAsync(Exchange exchange, CachedEntry entry, string relativePath)
    {
        var server = exchange.Server;
        var headers = RevalidationFields(exchange.Request, entry.Response);
        var requestTime = server.Clock.GetUtcNow();
        OriginResponse answer;
        try
        {
            // Asked directly, not through the shared downloads: a 304 needs no partial, no download, no joiners.
            answer = await server.Origin.ExchangeAsync(exchange, "GET", headers, Framing.None);
        }
        catch (ProxyException e) when (e.Side == Side.Upstream && !exchange.ResponseStarted)
        {
            if (Freshness.MustRevalidate(entry.Response))
            {
                throw new ProxyException(FailedStep.MustRevalidate, $"cannot revalidate {exchange.Url} (must-revalidate): {e.Message}");
            }

            Log.Warning("Serving stale {Url:l}: {Reason:l}", exchange.Url!.ToString(), e.Message);
            await Responder.ServeEntryAsync(exchange, entry, entry.Response);
            return Outcomes.Stale;
        }

        var (upstream, response) = answer;
        if (response.Status == 200 && Freshness.IsStorable(exchange.Request, response))
        {
            return await StoreNewBodyAsync(exchange, relativePath, answer, requestTime, headers);
        }

        if (response.Status >= 500 && Freshness.MayServeStaleOnError(entry.Response, server.Clock.GetUtcNow()))
        {
            // stale-if-error (RFC 5861 section 4): the origin failed, and the response allowed serving it stale then.
            upstream.Dispose();
            Log.Warning("Serving stale {Url:l}: the origin answered {Status} (stale-if-error)", exchange.Url!.ToString(), response.Status);
            await Responder.ServeEntryAsync(exchange, entry, entry.Response);
            return Outcomes.Stale;
        }

        if (response.Status != 304)
        {
            await Forwarder.RelayResponseAsync(exchange, answer);
            return Outcomes.Pass;
        }

        OriginClient.Release(upstream, response, Framing.None);
        var refreshed = entry.Response.Synthesized
            ? entry.Response
            : entry.Response.Refreshed(response.Headers, requestTime, server.Clock.GetUtcNow());
        if (!entry.Response.Synthesized)
        {
            // Should it fail, the client still gets the revalidated copy; the tree keeps the old metadata.
            await CacheWrites.TryAsync(exchange.Fiber, server.Store, () => server.Store.UpdateMeta(relativePath, refreshed), $"updating the metadata of {exchange.Url}");
        }

        NoticeIndex(server, CacheLayout.RelativePath(exchange.Url!)!, exchange.FileClass, entry);
        await Responder.ServeEntryAsync(exchange, entry, refreshed);
        return Outcomes.Revalidated;
    }

    /// <summary>
    /// The origin answered a revalidation with a new body: it is stored as any download is (and shared with the
    /// clients that ask meanwhile), unless a download of the URL is already running, when it is relayed as it is.
    /// </summary>
    private static async ValueTask<string> StoreNewBodyAsync(Exchange exchange, string relativePath, OriginResponse answer, DateTimeOffset requestTime, HttpHeaders headers)
    {
        var download = new Download(exchange.Server, exchange.Url!, relativePath, exchange.FileClass);
        if (exchange.Server.Downloads.Register(download) != download)
        {
            await Forwarder.RelayResponseAsync(exchange, answer);
            return Outcomes.Pass;
        }

        return await ServeDownloadAsync(exchange, download, () => download.StartAsync(exchange, answer, requestTime, resumeFrom: 0, headers), relativePath, requestTime);
    }

    /// <summary>
    /// Becomes the download of this URL, or joins the one that got there first, and serves it (MISS); the origin's
    /// answer when it is not a body to store (an error status, a no-store) is relayed (PASS).
    /// </summary>
    private static async ValueTask<string> FetchAsync(Exchange exchange, string relativePath, HttpHeaders headers)
    {
        var requestTime = exchange.Server.Clock.GetUtcNow();
        var download = new Download(exchange.Server, exchange.Url!, relativePath, exchange.FileClass);
        var running = exchange.Server.Downloads.Register(download);
        if (running != download)
        {
            return await TryJoinAsync(exchange, running) ? Outcomes.Miss : await Forwarder.PassThroughAsync(exchange);
        }

        return await ServeDownloadAsync(exchange, download, () => download.BeginAsync(exchange, headers), relativePath, requestTime);
    }

    /// <summary>
    /// The registered <paramref name="download"/> begins (<paramref name="begin"/> asks the origin, or starts from an
    /// answer in hand) and is served while it lands (MISS); an answer the cache does not take as a body is stored
    /// aside when it may be (a 301, a 404...) or relayed (PASS).
    /// </summary>
    private static async ValueTask<string> ServeDownloadAsync(Exchange exchange, Download download, Func<ValueTask<OriginResponse?>> begin, string relativePath, DateTimeOffset requestTime)
    {
        download.TryAcquire();
        OriginResponse? notStored;
        try
        {
            notStored = await begin();
        }
        catch
        {
            download.Release();
            throw;
        }

        if (notStored is not null)
        {
            download.Release();
            if ((Freshness.IsStorableAnswer(exchange.Request, notStored.Head) || Freshness.IsRememberedIndexAnswer(exchange.Request, notStored.Head, exchange.FileClass))
                && exchange.FileClass != FileClass.Immutable)
            {
                return await StoreAnswerAsync(exchange, relativePath, notStored, requestTime);
            }

            await Forwarder.RelayResponseAsync(exchange, notStored);
            return Outcomes.Pass;
        }

        await Responder.ServeDownloadAsync(exchange, download);
        return Outcomes.Miss;
    }

    /// <summary>The largest non-200 answer stored: they are redirects and error pages, read whole into memory.</summary>
    private const int MaxStoredAnswer = 1024 * 1024;

    /// <summary>
    /// A non-200 answer that may be stored (a 301, a 404... with a lifetime): read whole, stored under
    /// .replicator/answers/ (never in the tree, which holds only the exact bodies of 200s), and served.
    /// </summary>
    private static async ValueTask<string> StoreAnswerAsync(Exchange exchange, string relativePath, OriginResponse answer, DateTimeOffset requestTime)
    {
        var (upstream, head) = answer;
        var framing = head.BodyFraming("GET");
        if (framing.Kind == BodyKind.Length && framing.Length > MaxStoredAnswer)
        {
            await Forwarder.RelayResponseAsync(exchange, answer);
            return Outcomes.Pass;
        }

        // Read whole (any framing), up to the limit; past it, what was read goes out first and the rest is relayed.
        var body = new MemoryStream();
        var reader = new BodyReader(upstream.Connection, framing);
        try
        {
            while (body.Length <= MaxStoredAnswer && await reader.ReadAsync(exchange.Fiber, exchange.Timeout, static (piece, stream) =>
            {
                stream.Write(piece.Span);
                return ValueTask.CompletedTask;
            }, body))
            {
            }
        }
        catch (Exception e) when (e is IOException or HttpParseException or Fibers.FiberTimeoutException or System.Net.Sockets.SocketException)
        {
            upstream.Dispose();
            throw new ProxyException(FailedStep.UpstreamBody, $"upstream {exchange.Url!.Authority} broke off the body: {e.Message}");
        }

        if (!reader.IsDone)
        {
            await Forwarder.RelayResponseAsync(exchange, answer, reader, body.ToArray());
            return Outcomes.Pass;
        }

        OriginClient.Release(upstream, head, framing);
        var server = exchange.Server;
        var bytes = body.ToArray();
        var stored = StoredResponse.FromOrigin(head, exchange.Request.Headers, exchange.Url!.ToString(), bytes.Length, requestTime, server.Clock.GetUtcNow());
        await CacheWrites.TryAsync(exchange.Fiber, server.Store, () => server.Store.PutAnswer(relativePath, stored, bytes), $"storing the {head.Status} answer of {exchange.Url}");

        await Responder.ServeAnswerAsync(exchange, stored, bytes);
        return Outcomes.Miss;
    }

    /// <summary>
    /// Serves this request from a running download (GET, Range or HEAD); false when that download will not deliver
    /// (it was declined, or failed before its head) and the caller must fetch on its own.
    /// </summary>
    private static async ValueTask<bool> TryJoinAsync(Exchange exchange, Download running)
    {
        if (!running.TryAcquire())
        {
            return false;
        }

        try
        {
            await exchange.Fiber.WaitUntilAsync(running.Progress, () => !running.IsPending, exchange.DownloadPatience);

            if (running.IsUnavailable || !running.Stored!.MatchesVary(exchange.Request.Headers)
            || exchange.Server.CacheOptions.Mapping.HeldByAnother(running.Url.ToString(), exchange.Url!))
            {
                running.Release();
                return false;
            }
        }
        catch
        {
            running.Release();
            throw;
        }

        Log.Debug("Joined the running download of {Url:l}", running.Url.ToString());
        await Responder.ServeDownloadAsync(exchange, running);
        return true;
    }
}
