using System.Collections.Concurrent;
using System.Net;
using Replicator.Http;
using Replicator.Proxy;

namespace Replicator.Mirror;

/// <summary>What one fetch through the embedded proxy came to.</summary>
internal sealed record FetchResult(Uri Url, int Status, string Outcome, long Bytes, byte[]? Body)
{
    public bool Succeeded => Status is 200 or 304;
}

/// <summary>
/// Fetches URLs through the <see cref="EmbeddedProxy"/>, at most --jobs at once and --per-host per host, and counts
/// what happened: downloaded (the proxy's MISS), already complete (HIT, or REVALIDATED by a conditional request),
/// failed. A complete file that is not a package file is asked for with <c>Cache-Control: max-age=0</c>, so the proxy
/// checks it with a conditional request; a package file is served from the tree without asking (its file class).
/// </summary>
internal sealed class Fetcher(EmbeddedProxy proxy, int jobs, int perHost, TextWriter output) : IDisposable
{
    private readonly SemaphoreSlim _jobs = new(jobs);
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _hosts = new(StringComparer.OrdinalIgnoreCase);
    private long _downloaded, _downloadedBytes, _complete, _failed, _listings;

    public long Downloaded => Interlocked.Read(ref _downloaded);

    public long DownloadedBytes => Interlocked.Read(ref _downloadedBytes);

    public long AlreadyComplete => Interlocked.Read(ref _complete);

    public long Failed => Interlocked.Read(ref _failed);

    /// <summary>
    /// Fetches <paramref name="url"/> into the tree; with <paramref name="keepBody"/>, its body is returned too
    /// (listings, indexes). An <paramref name="optional"/> file (InRelease, Release.gpg) that is not there is no failure.
    /// </summary>
    public async Task<FetchResult> FetchAsync(Uri url, bool keepBody, CancellationToken cancel, bool optional = false, bool listing = false)
    {
        var host = _hosts.GetOrAdd(url.Authority, _ => new SemaphoreSlim(perHost));
        await _jobs.WaitAsync(cancel);
        try
        {
            await host.WaitAsync(cancel);
            try
            {
                var result = await SendAsync(url, keepBody, optional, cancel);
                if (listing && result.Succeeded)
                {
                    Interlocked.Increment(ref _listings);
                    return result;
                }

                return optional && result.Status == 404 ? result : Count(result);
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

    /// <summary>Prints the summary line; true when nothing failed.</summary>
    public bool Summarize()
    {
        output.WriteLine($"{Interlocked.Read(ref _listings)} listings read; {Downloaded + AlreadyComplete + Failed} files: {Downloaded} downloaded ({Cache.Upkeep.ByteSize.Format(DownloadedBytes)}), {AlreadyComplete} already complete, {Failed} failed");
        return Failed == 0;
    }

    private async Task<FetchResult> SendAsync(Uri url, bool keepBody, bool optional, CancellationToken cancel)
    {
        string spelled;
        try
        {
            spelled = RequestUrl.ParseAbsolute(url.AbsoluteUri).ToString();
        }
        catch (HttpParseException e)
        {
            output.WriteLine($"FAILED {url}: {e.Message}");
            return new FetchResult(url, 0, Outcomes.Error, 0, null);
        }

        var access = proxy.NextAccess(spelled);
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        request.Headers.TryAddWithoutValidation("Cache-Control", "max-age=0");
        try
        {
            using var response = await proxy.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancel);
            byte[]? body = null;
            long bytes;
            if (keepBody || response.StatusCode != HttpStatusCode.OK)
            {
                body = await response.Content.ReadAsByteArrayAsync(cancel);
                bytes = body.Length;
            }
            else
            {
                // The proxy stores the body; the mirror only counts it.
                await using var stream = await response.Content.ReadAsStreamAsync(cancel);
                var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(64 * 1024);
                try
                {
                    bytes = 0;
                    for (int read; (read = await stream.ReadAsync(buffer, cancel)) > 0;)
                    {
                        bytes += read;
                    }
                }
                finally
                {
                    System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
                }
            }

            var outcome = (await access.WaitAsync(TimeSpan.FromSeconds(30), cancel)).Outcome;
            if (response.StatusCode != HttpStatusCode.OK && !(optional && response.StatusCode == HttpStatusCode.NotFound))
            {
                // The proxy's own answers carry their reason in one line (a package that does not match its index...).
                var reason = System.Text.Encoding.UTF8.GetString(body!).Split('\n')[0].Trim();
                output.WriteLine($"FAILED {url}: {(int)response.StatusCode} {(reason.Length is > 0 and < 400 ? reason : response.ReasonPhrase)}");
            }

            return new FetchResult(url, (int)response.StatusCode, outcome, bytes, body);
        }
        catch (Exception e) when (e is HttpRequestException or IOException or TimeoutException)
        {
            output.WriteLine($"FAILED {url}: {e.Message}");
            return new FetchResult(url, 0, Outcomes.Error, 0, null);
        }
    }

    private FetchResult Count(FetchResult result)
    {
        if (result.Status != 200)
        {
            Interlocked.Increment(ref _failed);
        }
        else if (result.Outcome == Outcomes.Miss)
        {
            Interlocked.Increment(ref _downloaded);
            Interlocked.Add(ref _downloadedBytes, result.Bytes);
            output.WriteLine($"downloaded {result.Url} ({result.Bytes} bytes)");
        }
        else if (result.Outcome is Outcomes.Hit or Outcomes.Revalidated or Outcomes.Offline or Outcomes.Stale)
        {
            Interlocked.Increment(ref _complete);
        }
        else
        {
            // Passed through: the cache could not take it (a full disk, another process writing it now).
            Interlocked.Increment(ref _failed);
            output.WriteLine($"FAILED {result.Url}: not stored ({result.Outcome}); run again to fetch it");
        }

        return result;
    }
}
