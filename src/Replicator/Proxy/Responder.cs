using System.Buffers;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Unicode;
using Replicator.Cache;
using Replicator.Http;

namespace Replicator.Proxy;

/// <summary>
/// Answers a client from the cache: a stored body, or one still downloading (followed on disk as it grows). The
/// client's own conditionals are answered here (If-None-Match, If-Modified-Since: 304), and its single Range
/// (with If-Range) is served as a 206, as soon as its bytes are there.
/// </summary>
internal static class Responder
{
    /// <summary>Bodies up to this size are kept copied in memory and go out in the same send as the head.</summary>
    public const int SmallBody = 64 * 1024;

    /// <summary>The status line and stored fields of a plain 200, per stored response (see <see cref="PlainPlan"/>).</summary>
    private static readonly ConditionalWeakTable<StoredResponse, byte[]> s_plainFields = new();

    private static readonly string[] s_notModifiedFields = ["Cache-Control", "Content-Location", "Date", "ETag", "Expires", "Vary", "Last-Modified"];

    /// <summary>The most one send hands the kernel from a mapping.</summary>
    private const int MappedWindow = 1 << 30;

    public static async ValueTask ServeEntryAsync(Exchange exchange, CachedEntry entry, StoredResponse stored)
    {
        if (entry.Length <= SmallBody)
        {
            using var copied = Lease(exchange.Server.CopiedBodies, entry);
            if (copied is not null)
            {
                await ServeCopiedAsync(exchange, entry, stored, copied);
                return;
            }
        }
        else if (exchange.ClientOnSameHost)
        {
            using var mapped = Lease(exchange.Server.MappedBodies, entry);
            if (mapped is not null)
            {
                await ServeMappedAsync(exchange, entry, stored, mapped);
                return;
            }
        }

        await ServeFromDiskAsync(exchange, entry, stored);
    }

    private static TBody? Lease<TBody>(KeptBodies<TBody> bodies, CachedEntry entry)
        where TBody : KeptBody
    {
        try
        {
            return bodies.Lease(entry.BodyPath);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw entry.Gone(e);
        }
    }

    /// <summary>Serves a small body from its copy in memory, in the same send as the head.</summary>
    private static async ValueTask ServeCopiedAsync(Exchange exchange, CachedEntry entry, StoredResponse stored, CopiedBody body)
    {
        entry.CheckLength(body.Length);
        var plan = Plan(exchange, stored, body.Length);
        var count = (int)plan.Count;
        var buffer = ArrayPool<byte>.Shared.Rent(plan.Head.Length + count);
        try
        {
            plan.Head.CopyTo(buffer, 0);
            body.Bytes.Span.Slice((int)plan.Offset, count).CopyTo(buffer.AsSpan(plan.Head.Length));
            await exchange.SendAsync(buffer.AsMemory(0, plan.Head.Length + count));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Serves a large body to a client on this host by copying it from its mapping (see <see cref="MappedBody"/>).</summary>
    private static async ValueTask ServeMappedAsync(Exchange exchange, CachedEntry entry, StoredResponse stored, MappedBody body)
    {
        entry.CheckLength(body.Length);
        var plan = Plan(exchange, stored, body.Length);
        await exchange.SendAsync(plan.Head);
        if (plan.Count <= 0)
        {
            return;
        }

        var end = plan.Offset + plan.Count;
        for (var offset = plan.Offset; offset < end;)
        {
            var count = (int)Math.Min(end - offset, MappedWindow);
            await exchange.SendAsync(body.Window(offset, count));
            offset += count;
        }
    }

    /// <summary>Serves a body from its file with sendfile(2): large bodies for remote clients, and any body not kept.</summary>
    private static async ValueTask ServeFromDiskAsync(Exchange exchange, CachedEntry entry, StoredResponse stored)
    {
        using var file = exchange.Server.Store.OpenBody(entry);
        var length = entry.Length;
        var plan = Plan(exchange, stored, length);
        await exchange.SendAsync(plan.Head);
        if (plan.Count > 0)
        {
            await exchange.SendFileAsync(file, plan.Offset, plan.Count);
        }
    }

    /// <summary>Serves a download the caller holds a reference to (<see cref="Download.TryAcquire"/>), and lets go of it.</summary>
    public static async ValueTask ServeDownloadAsync(Exchange exchange, Download download)
    {
        try
        {
            await FollowDownloadAsync(exchange, download);
        }
        finally
        {
            download.Release();
        }
    }

    private static async ValueTask FollowDownloadAsync(Exchange exchange, Download download)
    {
        var plan = Plan(exchange, download.Stored!, download.Length);
        await exchange.SendAsync(plan.Head);
        if (plan.Count == 0)
        {
            return;
        }

        var offset = plan.Offset;
        var end = plan.Count < 0 ? long.MaxValue : plan.Offset + plan.Count;
        var bodyEnd = download.Length ?? long.MaxValue;
        while (offset < end)
        {
            var generation = download.Progress.Generation;
            // The body's last byte goes out only once the body is stored: when a client has the whole body, so
            // does the tree (and a body that ends short never looks complete to anyone).
            var complete = download.Complete;
            var available = Math.Min(complete ? download.Available : Math.Min(download.Available, bodyEnd - 1), end);
            if (available > offset)
            {
                // Up to where the disk refused the body, from the file; past it, from memory (see Download).
                var tailStart = download.TailStart;
                var fromMemory = tailStart >= 0 && offset >= tailStart ? download.ReadTail(offset, available - offset) : ReadOnlyMemory<byte>.Empty;
                var count = tailStart < 0 ? available - offset : offset >= tailStart ? fromMemory.Length : Math.Min(available, tailStart) - offset;
                if (plan.Chunked)
                {
                    await exchange.SendAsync(ChunkedEncoding.SizeLine(count));
                }

                if (fromMemory.IsEmpty)
                {
                    await exchange.SendFileAsync(download.File, offset, count);
                }
                else
                {
                    await exchange.SendAsync(fromMemory);
                }

                available = offset + count;
                if (plan.Chunked)
                {
                    await exchange.SendAsync("\r\n"u8.ToArray());
                }

                offset = available;
                continue;
            }

            if (complete)
            {
                break;
            }

            if (download.Error is { } error)
            {
                throw new ProxyException(FailedStep.UpstreamBody, $"upstream {download.Url.Authority} broke off the body: {error.Message}");
            }

            await exchange.Fiber.WaitAsync(download.Progress, generation, exchange.Timeout * 2);
        }

        if (plan.Chunked)
        {
            await exchange.SendAsync(ChunkedEncoding.End);
        }
    }

    /// <summary>The response head to send and the part of the body that follows it (Count -1: unknown, until the end).</summary>
    private static ResponsePlan Plan(Exchange exchange, StoredResponse stored, long? length)
    {
        var request = exchange.Request;
        if (length is { } whole && IsPlain(request))
        {
            return PlainPlan(exchange, stored, whole);
        }

        var headers = stored.Headers.Clone();
        if (!stored.Synthesized)
        {
            headers.Set("Age", AgeSeconds(exchange, stored).ToString(CultureInfo.InvariantCulture));
        }

        Messages.AddVia(headers, request.Version);
        if (NotModified(request.Headers, stored))
        {
            var selected = new HttpHeaders();
            foreach (var (name, value) in headers.Fields)
            {
                if (s_notModifiedFields.Contains(name, StringComparer.OrdinalIgnoreCase) || name is "Age" or "Via")
                {
                    selected.Add(name, value);
                }
            }

            return Head(exchange, 304, selected, Framing.None, 0, 0);
        }

        if (length is not { } total)
        {
            var framing = Forwarder.ClientFraming(exchange, new Framing(BodyKind.Chunked));
            return Head(exchange, 200, headers, framing, 0, -1);
        }

        headers.Set("Accept-Ranges", "bytes");
        var range = request.Method == "GET" && IfRangeHolds(request.Headers, stored) ? RangeRequest.Parse(request.Headers["Range"], total) : new RangeRequest(RangeKind.Whole);
        switch (range.Kind)
        {
            case RangeKind.Single:
                headers.Set("Content-Range", $"bytes {range.Start}-{range.End}/{total}");
                return Head(exchange, 206, headers, new Framing(BodyKind.Length, range.Count), range.Start, range.Count);
            case RangeKind.Unsatisfiable:
                var refusal = new HttpHeaders();
                refusal.Add("Content-Range", $"bytes */{total}");
                return Head(exchange, 416, refusal, new Framing(BodyKind.Length, 0), 0, 0);
            default:
                return Head(exchange, 200, headers, new Framing(BodyKind.Length, total), 0, total);
        }
    }

    /// <summary>A request for the whole body with no validator: answered 200 with the stored fields as they are.</summary>
    private static bool IsPlain(RequestHead request) =>
        !request.Headers.Contains("Range") && !request.Headers.Contains("If-None-Match") && !request.Headers.Contains("If-Modified-Since");

    /// <summary>
    /// The head of a plain 200, byte for byte what the general path builds: the status line and stored fields,
    /// encoded once per stored response (<see cref="s_plainFields"/>), then the fields that change per answer.
    /// </summary>
    private static ResponsePlan PlainPlan(Exchange exchange, StoredResponse stored, long length)
    {
        var fields = s_plainFields.GetValue(stored, static stored =>
        {
            var headers = stored.Headers.Clone();
            headers.Remove("Accept-Ranges");
            var text = new StringBuilder("HTTP/1.1 200 OK\r\n");
            headers.WriteTo(text);
            return Encoding.Latin1.GetBytes(text.ToString());
        });
        Span<byte> tail = stackalloc byte[192];
        var written = 0;
        if (!stored.Synthesized)
        {
            Utf8.TryWrite(tail, CultureInfo.InvariantCulture, $"Age: {AgeSeconds(exchange, stored)}\r\n", out written);
        }

        var close = exchange.KeepAlive ? string.Empty : "Connection: close\r\n";
        Utf8.TryWrite(tail[written..], CultureInfo.InvariantCulture, $"Via: {Messages.ViaHop(exchange.Request.Version)}\r\nAccept-Ranges: bytes\r\nContent-Length: {length}\r\n{close}\r\n", out var rest);
        var head = new byte[fields.Length + written + rest];
        fields.CopyTo(head, 0);
        tail[..(written + rest)].CopyTo(head.AsSpan(fields.Length));
        return Planned(exchange, 200, head, 0, length, chunked: false);
    }

    private static long AgeSeconds(Exchange exchange, StoredResponse stored) => (long)Freshness.Age(stored, exchange.Server.Clock.GetUtcNow()).TotalSeconds;

    private static ResponsePlan Head(Exchange exchange, int status, HttpHeaders headers, Framing framing, long offset, long count) =>
        Planned(exchange, status, Messages.ClientResponse(status, Messages.ReasonPhrase(status), headers, framing, exchange.KeepAlive), offset, count, framing.Kind == BodyKind.Chunked);

    /// <summary>Records the status; a HEAD request gets the head alone.</summary>
    private static ResponsePlan Planned(Exchange exchange, int status, byte[] head, long offset, long count, bool chunked)
    {
        exchange.Status = status;
        return exchange.Request.Method == "HEAD" ? new ResponsePlan(head, 0, 0, false) : new ResponsePlan(head, offset, count, chunked);
    }

    /// <summary>The client's validators match the stored response (RFC 9110 section 13.1.2 and 13.1.3).</summary>
    private static bool NotModified(HttpHeaders request, StoredResponse stored)
    {
        if (request.Contains("If-None-Match"))
        {
            var etag = stored.ETag;
            return etag is not null && request.GetList("If-None-Match").Any(tag => tag == "*" || OpaqueTag(tag) == OpaqueTag(etag));
        }

        return HttpDate.TryParse(request["If-Modified-Since"], out var since) && (stored.LastModified ?? stored.BodyStamp) <= since;
    }

    /// <summary>If-Range: a strong ETag equal to ours, or exactly our Last-Modified; absent holds.</summary>
    private static bool IfRangeHolds(HttpHeaders request, StoredResponse stored)
    {
        var condition = request["If-Range"];
        if (condition is null)
        {
            return true;
        }

        if (condition.StartsWith('"') || condition.StartsWith("W/", StringComparison.Ordinal))
        {
            return !condition.StartsWith("W/", StringComparison.Ordinal) && stored.ETag is { } etag && !etag.StartsWith("W/", StringComparison.Ordinal) && etag == condition;
        }

        return HttpDate.TryParse(condition, out var date) && stored.LastModified == date;
    }

    private static string OpaqueTag(string tag) => tag.StartsWith("W/", StringComparison.Ordinal) ? tag[2..] : tag;

    private readonly record struct ResponsePlan(byte[] Head, long Offset, long Count, bool Chunked);
}
