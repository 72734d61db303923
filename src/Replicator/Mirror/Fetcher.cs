using System.Collections.Concurrent;
using Replicator.Cache;
using Replicator.Http;
using Replicator.Proxy;

namespace Replicator.Mirror;

/// <summary>What one fetch through the embedded proxy came to; <paramref name="Reason"/> says why it failed.</summary>
internal sealed record FetchResult(Uri Url, int Status, string Outcome, long Bytes, byte[]? Body, string? Reason = null)
{
    public bool Succeeded => Status is 200 or 304;

    /// <summary>The repository's indexes describe the file (size and SHA256), so a body the proxy stored was checked against them.</summary>
    public bool Verified { get; init; }
}

/// <summary>
/// Fetches URLs through the <see cref="EmbeddedProxy"/>, at most --jobs at once and --per-host per host, and tells the
/// <see cref="MirrorReport"/> how each ended: downloaded (the proxy's MISS), already current (HIT, or REVALIDATED by a
/// conditional request), failed. A complete file that is not a package file is asked for with
/// <c>Cache-Control: no-cache</c>, so the proxy checks it with a conditional request; a package file is served from
/// the tree without asking (its file class). With <see cref="DryRun"/>, nothing the run reads is stored.
/// </summary>
internal sealed class Fetcher(EmbeddedProxy proxy, int jobs, int perHost, MirrorReport report) : IDisposable
{
    /// <summary>
    /// What every request of the mirror says: a stored copy is used only once the origin confirmed it. Not
    /// <c>max-age=0</c>, which a copy the origin allows to be served stale while revalidating (RFC 5861) satisfies
    /// with the stale bytes, the revalidation left to run behind a mirror that may have ended by then.
    /// </summary>
    private const string Revalidate = "no-cache";

    private readonly SemaphoreSlim _jobs = new(jobs);
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _hosts = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// --dry-run: what the run needs to read (listings, indexes: <c>keepBody</c>) is read without being stored (the
    /// request says no-store), and every other file is only planned (<see cref="PlanAsync"/>), so the crawlers run
    /// exactly as for a real run.
    /// </summary>
    public bool DryRun { get; init; }

    public MirrorReport Report => report;

    /// <summary>
    /// Fetches <paramref name="url"/> into the tree; with <paramref name="keepBody"/>, its body is returned too
    /// (listings, indexes). An <paramref name="optional"/> file (InRelease, Release.gpg) that is not there is no
    /// failure. <paramref name="knownSize"/> (from an index, or a HEAD already asked) spares a dry run the HEAD.
    /// </summary>
    public async Task<FetchResult> FetchAsync(Uri url, bool keepBody, CancellationToken cancel, bool optional = false, bool listing = false, long? knownSize = null)
    {
        if (DryRun && !keepBody)
        {
            return await PlanAsync(url, knownSize, cancel);
        }

        // In a dry run, what is read is only read: it is not one of the files.
        var read = listing || DryRun;
        if (!read)
        {
            report.Plan(1);
        }

        return await LimitedAsync(url, async () =>
        {
            var result = await SendAsync(report.Started(url), keepBody, cancel);
            if (read && result.Succeeded)
            {
                report.ListingRead(url);
                return result;
            }

            return optional && result.Status == 404 ? Dropped(result) : Count(result);
        }, cancel);
    }

    /// <summary>
    /// --dry-run: reports whether <paramref name="url"/> would be fetched (nothing complete in the tree) and its size
    /// (<paramref name="knownSize"/>, else a HEAD request through the proxy, within the same limits as a fetch).
    /// </summary>
    private async Task<FetchResult> PlanAsync(Uri url, long? knownSize, CancellationToken cancel)
    {
        report.Plan(1);
        if (proxy.CachePathOf(url) is { } path && proxy.Server.Store.Lookup(path) is not null)
        {
            report.FileInTree(url);
        }
        else
        {
            knownSize ??= await SizeAsync(url, cancel);
            report.FileWouldBeFetched(url, knownSize);
        }

        return new FetchResult(url, 200, "PLANNED", knownSize ?? 0, null);
    }

    /// <summary>
    /// The size of <paramref name="url"/> by a HEAD request through the proxy (nothing is stored), within the same
    /// limits as a fetch; null when not said, or when the request failed (the GET that follows says why).
    /// </summary>
    public Task<long?> SizeAsync(Uri url, CancellationToken cancel) => LimitedAsync<long?>(url, async () =>
    {
        try
        {
            var response = new InProcessResponse { Abandoned = cancel };
            var exchange = await proxy.AskAsync("HEAD", RequestUrl.ParseAbsolute(url.AbsoluteUri, allowHttps: true), null, response).WaitAsync(cancel);
            return exchange.Status == 200 ? response.Length : null;
        }
        catch (Exception e) when (IsRequestFailure(e))
        {
            return null;
        }
    }, cancel);

    /// <summary>Runs one request's work within --jobs and --per-host.</summary>
    private async Task<T> LimitedAsync<T>(Uri url, Func<Task<T>> work, CancellationToken cancel)
    {
        var host = _hosts.GetOrAdd(url.Authority, _ => new SemaphoreSlim(perHost));
        await _jobs.WaitAsync(cancel);
        try
        {
            await host.WaitAsync(cancel);
            try
            {
                return await work();
            }
            finally
            {
                host.Release();
            }
        }
        finally
        {
            _jobs.Release();
        }
    }

    public void Dispose()
    {
        _jobs.Dispose();
        foreach (var host in _hosts.Values)
        {
            host.Dispose();
        }
    }

    /// <summary>
    /// Asks the proxy in-process for <paramref name="file"/>: a file is stored by the proxy and only counted here; a
    /// body the run reads (<paramref name="keepBody"/>: a listing, an index) is kept too.
    /// </summary>
    private async Task<FetchResult> SendAsync(InFlight file, bool keepBody, CancellationToken cancel)
    {
        var url = file.Url;
        RequestUrl parsed;
        try
        {
            parsed = RequestUrl.ParseAbsolute(url.AbsoluteUri, allowHttps: true);
        }
        catch (HttpParseException e)
        {
            return new FetchResult(url, 0, Outcomes.Error, 0, null, e.Message);
        }

        var response = new InProcessResponse(
            keepBody,
            length => file.Length = length,
            keepBody ? null : bytes => report.Received(file, bytes))
        { Abandoned = cancel };
        try
        {
            var exchange = await proxy.AskAsync("GET", parsed, DryRun ? $"{Revalidate}, no-store" : Revalidate, response).WaitAsync(cancel);
            // The proxy's own answers carry their reason in one line (a package that does not match its index...).
            var reason = exchange.Status == 200 ? null : $"{exchange.Status} {response.ErrorLine ?? response.Head?.Reason}";
            return new FetchResult(url, exchange.Status, exchange.Outcome, response.BodyBytes, response.Body, reason) { Verified = Described(parsed) };
        }
        catch (Exception e) when (IsRequestFailure(e))
        {
            return new FetchResult(url, 0, Outcomes.Error, 0, null, e.Message);
        }
    }

    /// <summary>What ends an in-process request: what would end a client's connection, or a URL the proxy cannot take.</summary>
    private static bool IsRequestFailure(Exception e) => ClientSession.EndsConnection(e) || e is HttpParseException;

    /// <summary>Whether the repository's indexes name the file's size and SHA256: the proxy then checked its body against them.</summary>
    private bool Described(RequestUrl url) => CacheLayout.RelativePath(url) is { } key && proxy.Server.Indexes.Expect(key) is not null;

    /// <summary>An optional file that is not there: not counted.</summary>
    private FetchResult Dropped(FetchResult result)
    {
        report.Dropped(result.Url);
        return result;
    }

    private FetchResult Count(FetchResult result)
    {
        if (result.Status != 200)
        {
            report.FileFailed(result.Url, result.Reason ?? $"{result.Status}");
        }
        else if (result.Outcome == Outcomes.Miss)
        {
            report.FileDownloaded(result.Url, result.Bytes, result.Verified);
        }
        else if (result.Outcome is Outcomes.Hit or Outcomes.Revalidated or Outcomes.Offline or Outcomes.Stale)
        {
            report.FileCurrent(result.Url);
        }
        else
        {
            // Passed through: the cache could not take it (a full disk, another process writing it now).
            report.FileFailed(result.Url, $"not stored ({result.Outcome}); run again to fetch it");
        }

        return result;
    }
}
