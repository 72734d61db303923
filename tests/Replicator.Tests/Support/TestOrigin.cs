using System.Collections.Concurrent;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Replicator.Tests;

/// <summary>A resource the origin serves: its bytes and the headers that describe it.</summary>
/// <param name="PauseAt">Send this many body bytes, then wait for <paramref name="Resume"/> before the rest.</param>
/// <param name="AbortAt">Send this many body bytes, then drop the connection.</param>
/// <param name="IgnoreRange">Answer Range requests with the whole 200, as a server without range support.</param>
/// <param name="Fields">More response fields, "Name: value" each (Set-Cookie, Age, ...).</param>
/// <param name="Status">Another status than 200: the body is sent with it, and validators are not looked at.</param>
internal sealed record OriginFile(byte[] Body, string ContentType = "application/octet-stream", string? CacheControl = null, string? ETag = null, DateTimeOffset? LastModified = null, bool Chunked = false, int? PauseAt = null, Task? Resume = null, int? AbortAt = null, bool IgnoreRange = false, string[]? Fields = null, int Status = 200)
{
    /// <summary>Completes when the origin has sent the bytes before a pause or an abort.</summary>
    public TaskCompletionSource Reached { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes when the client of the origin (the proxy) went away before the whole body was sent.</summary>
    public TaskCompletionSource Abandoned { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
}

/// <summary>
/// A real HTTP server (Kestrel) on a loopback port chosen by the OS, serving files a test sets, answering validators
/// itself, and recording every request it saw so tests can assert what the proxy sent upstream.
/// </summary>
internal sealed class TestOrigin : IAsyncDisposable
{
    private readonly WebApplication _app;

    private TestOrigin(WebApplication app)
    {
        _app = app;
    }

    public ConcurrentDictionary<string, OriginFile> Files { get; } = new(StringComparer.Ordinal);

    public ConcurrentQueue<SeenRequest> Requests { get; } = new();

    private TaskCompletionSource _seen = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Waits (bounded) until the origin has seen <paramref name="count"/> requests for <paramref name="path"/>.</summary>
    public async Task WaitForRequestsAsync(string path, int count)
    {
        var deadline = DateTime.UtcNow + RawClient.ReadBound;
        while (true)
        {
            var seen = Volatile.Read(ref _seen).Task;
            if (CountRequests(path) >= count)
            {
                return;
            }

            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero)
            {
                throw new TimeoutException($"the origin saw fewer than {count} requests for {path}");
            }

            await seen.WaitAsync(left).ContinueWith(_ => { }, TaskScheduler.Default);
        }
    }

    public int Port { get; private set; }

    public string Url(string path) => $"http://127.0.0.1:{Port}{path}";

    public int CountRequests(string path) => Requests.Count(r => r.PathAndQuery == path);

    /// <param name="certificate">Served over TLS with this certificate (and its key) when given: an https origin.</param>
    public static async Task<TestOrigin> StartAsync(System.Security.Cryptography.X509Certificates.X509Certificate2? certificate = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(options => options.Listen(IPAddress.Loopback, 0, listen =>
        {
            if (certificate is not null)
            {
                listen.UseHttps(certificate);
            }
        }));
        var app = builder.Build();
        var origin = new TestOrigin(app);
        app.Run(origin.HandleAsync);
        await app.StartAsync();
        origin.Port = new Uri(app.Urls.First()).Port;
        return origin;
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();

    private async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        var pathAndQuery = request.Path + request.QueryString;
        using var body = new MemoryStream();
        await request.Body.CopyToAsync(body);
        Requests.Enqueue(new SeenRequest(request.Method, pathAndQuery, request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase), body.ToArray()));
        Interlocked.Exchange(ref _seen, new(TaskCreationOptions.RunContinuationsAsynchronously)).SetResult();

        if (request.Path == "/echo")
        {
            context.Response.ContentType = "application/octet-stream";
            await context.Response.Body.WriteAsync(body.ToArray());
            return;
        }

        if (!Files.TryGetValue(pathAndQuery, out var file))
        {
            context.Response.StatusCode = 404;
            await context.Response.WriteAsync("no such file\n");
            return;
        }

        var response = context.Response;
        response.ContentType = file.ContentType;
        foreach (var field in file.Fields ?? [])
        {
            var colon = field.IndexOf(':', StringComparison.Ordinal);
            response.Headers.Append(field[..colon], field[(colon + 1)..].Trim());
        }

        if (file.CacheControl is not null)
        {
            response.Headers.CacheControl = file.CacheControl;
        }

        if (file.ETag is not null)
        {
            response.Headers.ETag = file.ETag;
        }

        if (file.LastModified is { } lastModified)
        {
            response.Headers.LastModified = lastModified.ToString("r");
        }

        if (file.Status != 200)
        {
            response.StatusCode = file.Status;
            if (file.Status != 204)
            {
                await response.Body.WriteAsync(file.Body);
            }

            return;
        }

        var notModified = request.Headers.IfNoneMatch.Count > 0
            ? file.ETag is not null && request.Headers.IfNoneMatch.ToString().Contains(file.ETag, StringComparison.Ordinal)
            : file.LastModified is { } modified && DateTimeOffset.TryParse(request.Headers.IfModifiedSince.ToString(), out var since) && modified <= since;
        if (notModified)
        {
            response.StatusCode = 304;
            return;
        }

        var start = 0;
        if (!file.IgnoreRange && request.Headers.Range.ToString() is { Length: > 0 } range && range.StartsWith("bytes=", StringComparison.Ordinal) && range.EndsWith('-'))
        {
            var ifRange = request.Headers.IfRange.ToString();
            if (ifRange.Length == 0 || ifRange == file.ETag || ifRange == file.LastModified?.ToString("r"))
            {
                start = int.Parse(range[6..^1], System.Globalization.CultureInfo.InvariantCulture);
                if (start >= file.Body.Length)
                {
                    response.StatusCode = 416;
                    response.Headers.ContentRange = $"bytes */{file.Body.Length}";
                    return;
                }

                response.StatusCode = 206;
                response.Headers.ContentRange = $"bytes {start}-{file.Body.Length - 1}/{file.Body.Length}";
            }
        }

        // The pause or break happens once: a later request (a resume) is served straight through.
        if ((file.PauseAt is not null || file.AbortAt is not null) && !file.Reached.Task.IsCompleted)
        {
            var stop = file.PauseAt ?? file.AbortAt!.Value;
            response.ContentLength = file.Body.Length - start;
            if (start < stop)
            {
                await response.Body.WriteAsync(file.Body.AsMemory(start, stop - start));
                await response.Body.FlushAsync();
            }

            file.Reached.TrySetResult();
            if (file.AbortAt is not null && start < stop)
            {
                context.Abort();
                return;
            }

            if (file.Resume is not null && start < stop)
            {
                await file.Resume;
            }

            try
            {
                // In pieces, so that a client that went away is noticed.
                foreach (var piece in file.Body.AsMemory(Math.Max(start, stop)).ToArray().Chunk(64 * 1024))
                {
                    // Kestrel may take writes silently once the connection is gone (the client left during a pause).
                    context.RequestAborted.ThrowIfCancellationRequested();
                    await response.Body.WriteAsync(piece, context.RequestAborted);
                    await response.Body.FlushAsync(context.RequestAborted);
                }
            }
            catch (Exception e) when (e is OperationCanceledException or IOException)
            {
                file.Abandoned.TrySetResult();
            }

            return;
        }

        if (file.Chunked)
        {
            // No Content-Length: Kestrel frames the body as chunked; several writes make several chunks.
            foreach (var piece in file.Body.Chunk(1000))
            {
                await response.Body.WriteAsync(piece);
                await response.Body.FlushAsync();
            }

            return;
        }

        response.ContentLength = file.Body.Length - start;
        await response.Body.WriteAsync(file.Body.AsMemory(start));
    }
}

internal sealed record SeenRequest(string Method, string PathAndQuery, Dictionary<string, string> Headers, byte[] Body);
