using System.Buffers;
using System.Globalization;
using System.Text;
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
    /// <summary>Bodies up to this size go out in the same send as the head.</summary>
    private const int SmallBody = 64 * 1024;

    private static readonly string[] s_notModifiedFields = ["Cache-Control", "Content-Location", "Date", "ETag", "Expires", "Vary", "Last-Modified"];

    /// <summary>Send buffer for a client on this host: small enough that what we copy in is still in the CPU cache when the client copies it out.</summary>
    private const int SameHostSendBuffer = 256 * 1024;

    /// <summary>The most one send hands the kernel from a mapping.</summary>
    private const int MappedWindow = 1 << 30;

    public static async ValueTask ServeEntryAsync(Exchange exchange, CachedEntry entry, StoredResponse stored)
    {
        if (entry.Length > SmallBody && exchange.ClientOnSameHost && LeaseMapped(exchange, entry) is { } mapped)
        {
            using (mapped)
            {
                await ServeMappedAsync(exchange, entry, stored, mapped);
            }

            return;
        }

        Microsoft.Win32.SafeHandles.SafeFileHandle file;
        try
        {
            file = File.OpenHandle(entry.BodyPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw Gone(entry, e);
        }

        using var _ = file;
        // A small body is checked by reading one byte past its end instead of asking its length (one system call less).
        var length = entry.Length <= SmallBody ? entry.Length : RandomAccess.GetLength(file);
        CheckLength(entry, length);
        var plan = Plan(exchange, stored, length);
        if (plan.Count <= 0)
        {
            await exchange.SendAsync(plan.Head);
            return;
        }

        if (plan.Count <= SmallBody)
        {
            var buffer = ArrayPool<byte>.Shared.Rent(plan.Head.Length + (int)plan.Count + 1);
            try
            {
                plan.Head.CopyTo(buffer, 0);
                var wanted = (int)plan.Count + (plan.Offset + plan.Count == length ? 1 : 0);
                var read = RandomAccess.Read(file, buffer.AsSpan(plan.Head.Length, wanted), plan.Offset);
                if (read != plan.Count)
                {
                    throw new CacheEntryChangedException(entry.RelativePath, $"{entry.RelativePath} is not {length} bytes any more");
                }

                await exchange.SendAsync(buffer.AsMemory(0, plan.Head.Length + read));
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }

            return;
        }

        await exchange.SendAsync(plan.Head);
        await exchange.SendFileAsync(file, plan.Offset, plan.Count);
    }

    private static MappedBody? LeaseMapped(Exchange exchange, CachedEntry entry)
    {
        try
        {
            return exchange.Server.MappedBodies.Lease(entry.BodyPath);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw Gone(entry, e);
        }
    }

    /// <summary>Serves a stored body to a client on this host by copying it from its mapping (see <see cref="MappedBodies"/>).</summary>
    private static async ValueTask ServeMappedAsync(Exchange exchange, CachedEntry entry, StoredResponse stored, MappedBody body)
    {
        CheckLength(entry, body.Length);
        var plan = Plan(exchange, stored, body.Length);
        await exchange.SendAsync(plan.Head);
        if (plan.Count <= 0)
        {
            return;
        }

        exchange.Client.Socket.SendBufferSize = SameHostSendBuffer;
        var end = plan.Offset + plan.Count;
        for (var offset = plan.Offset; offset < end;)
        {
            var count = (int)Math.Min(end - offset, MappedWindow);
            await exchange.SendAsync(body.Window(offset, count));
            offset += count;
        }
    }

    private static CacheEntryChangedException Gone(CachedEntry entry, Exception e) => new(entry.RelativePath, $"{entry.RelativePath} is gone", e);

    private static void CheckLength(CachedEntry entry, long length)
    {
        if (length != entry.Length)
        {
            throw new CacheEntryChangedException(entry.RelativePath, $"{entry.RelativePath} is {length} bytes, its metadata says {entry.Length}");
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
                var count = available - offset;
                if (plan.Chunked)
                {
                    await exchange.SendAsync(ChunkedEncoding.SizeLine(count));
                }

                await exchange.SendFileAsync(download.File, offset, count);
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
                throw new ProxyException(502, $"upstream {download.Url.Authority} broke off the body: {error.Message}");
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
        var headers = stored.Headers.Clone();
        if (!stored.Synthesized)
        {
            headers.Set("Age", ((long)Freshness.Age(stored, exchange.Server.Clock.GetUtcNow()).TotalSeconds).ToString(CultureInfo.InvariantCulture));
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

    private static ResponsePlan Head(Exchange exchange, int status, HttpHeaders headers, Framing framing, long offset, long count)
    {
        exchange.Status = status;
        var head = Messages.ClientResponse(status, Messages.ReasonPhrase(status), headers, framing, exchange.KeepAlive);
        return exchange.Request.Method == "HEAD"
            ? new ResponsePlan(head, 0, 0, false)
            : new ResponsePlan(head, offset, count, framing.Kind == BodyKind.Chunked);
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
