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

    /// <summary>
    /// Serves a small body from its copy in memory, in the same send as the head. The commonest hit, a plain 200,
    /// has its head written straight into that buffer (its plan carries no head array).
    /// </summary>
    private static async ValueTask ServeCopiedAsync(Exchange exchange, CachedEntry entry, StoredResponse stored, CopiedBody body)
    {
        entry.CheckLength(body.Length);
        var request = exchange.Request;
        var now = exchange.Server.Clock.GetUtcNow();
        var plain = ResponsePlan.IsPlain(request);
        var plan = Announced(exchange, plain ? ResponsePlan.PlainWithoutHead(request, body.Length, exchange.KeepAlive) : ResponsePlan.For(request, stored, body.Length, now, exchange.KeepAlive));
        var count = (int)plan.Count;
        var buffer = ArrayPool<byte>.Shared.Rent((plain ? ResponsePlan.PlainHeadCapacity(stored) : plan.Head.Length) + count);
        try
        {
            plan.Head.CopyTo(buffer, 0);
            var head = plain ? ResponsePlan.WritePlainHead(request, stored, body.Length, now, exchange.KeepAlive, buffer) : plan.Head.Length;
            body.Bytes.Span.Slice((int)plan.Offset, count).CopyTo(buffer.AsSpan(head));
            await exchange.SendAsync(buffer.AsMemory(0, head + count));
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

    /// <summary>Serves a stored non-200 answer whole: its status, its fields (with its age and our Via), its body.</summary>
    public static async ValueTask ServeAnswerAsync(Exchange exchange, StoredResponse stored, byte[] body)
    {
        var headers = stored.Headers.Clone();
        headers.Set("Age", ((long)Freshness.Age(stored, exchange.Server.Clock.GetUtcNow()).TotalSeconds).ToString(CultureInfo.InvariantCulture));
        ProxyHeads.AddVia(headers, exchange.Request.Version);
        exchange.Respond(stored.Status);
        var framing = stored.Status is 204 ? Framing.None : new Framing(BodyKind.Length, body.Length);
        var head = HeadWriter.Response(stored.Status, HeadWriter.ReasonPhrase(stored.Status), headers, framing, exchange.KeepAlive);
        await exchange.SendAsync(exchange.Request.Method == "HEAD" || framing.Kind == BodyKind.None ? head : [.. head, .. body]);
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
        if (download.HoldsHead)
        {
            await AwaitVerifiedAsync(exchange, download);
        }

        var plan = Plan(exchange, download.Stored!, download.Length);
        await exchange.SendAsync(plan.Head);
        if (plan.Count == 0)
        {
            return;
        }

        var offset = plan.Offset;
        var end = plan.Count < 0 ? long.MaxValue : plan.Offset + plan.Count;
        var onPumpLoop = !plan.Chunked && exchange.Fiber.Loop == download.PumpLoop;
        var sole = onPumpLoop && download.Clients == 1;
        try
        {
            await SendBodyAsync(exchange, download, plan, offset, end, onPumpLoop, sole);
        }
        finally
        {
            if (sole)
            {
                download.SoleReaderGone();
            }
        }

        if (plan.Chunked)
        {
            await exchange.SendAsync(ChunkedEncoding.End);
        }
    }

    /// <summary>
    /// Sends the body from <paramref name="offset"/> up to <paramref name="end"/> as it arrives: from the ring (clients
    /// on the pump's loop), the file, or the memory tail. The download's only client, on its loop (<paramref name="sole"/>),
    /// tells it where it is before each send, so that the download does not run ahead of it (see Download.PacedBy).
    /// </summary>
    private static async ValueTask SendBodyAsync(Exchange exchange, Download download, ResponsePlan plan, long offset, long end, bool onPumpLoop, bool sole)
    {
        var bodyEnd = download.Length ?? long.MaxValue;
        while (offset < end)
        {
            if (sole)
            {
                download.SoleReaderAt(offset);
            }

            var generation = download.Progress.Generation;
            // The body's last byte goes out only once every byte has arrived (and been verified): a body that ends
            // short never looks complete to anyone. The commit into the tree may still be running then.
            var complete = download.BodyReceived;
            var limit = Math.Min(complete ? long.MaxValue : bodyEnd - 1, end);
            var tail = download.Tail;
            if (onPumpLoop && tail is null && download.Ring is { } ring && offset >= ring.Floor)
            {
                // The latest bytes, from memory, as they arrive: only what the socket takes now, since the ring may
                // move on while this client waits for room (it then continues from the file).
                var upTo = Math.Min(ring.End, limit);
                if (upTo > offset)
                {
                    var sent = exchange.SendNow(ring.Read(offset, upTo - offset).Span);
                    offset += sent;
                    if (sent == 0)
                    {
                        await exchange.WaitWritableAsync();
                    }

                    continue;
                }
            }
            else
            {
                // Past where the disk refused the body, from memory (see Download); before it, from the file as far
                // as it has been written.
                var inTail = tail is not null && offset >= tail.Start;
                var fromMemory = inTail ? tail!.Read(offset, Math.Min(download.Available, limit) - offset) : default;
                var count = inTail ? fromMemory.Length : Math.Min(tail?.Start ?? download.Written, limit) - offset;
                if (count > 0)
                {
                    if (plan.Chunked)
                    {
                        await exchange.SendAsync(ChunkedEncoding.SizeLine(count));
                    }

                    await (fromMemory.IsEmpty ? exchange.SendFileAsync(download.File, offset, count) : exchange.SendAsync(fromMemory));
                    if (plan.Chunked)
                    {
                        await exchange.SendAsync(ChunkedEncoding.DataEnd);
                    }

                    offset += count;
                    continue;
                }
            }

            if (complete && offset >= download.Available)
            {
                break;
            }

            if (download.Error is { } error)
            {
                throw Failure(download, error);
            }

            await exchange.Fiber.WaitAsync(download.Progress, generation, exchange.DownloadPatience);
        }
    }

    /// <summary>
    /// A body the package indexes vouch for goes out only once it is complete and verified: a mismatch is then a
    /// 502 with its reason (and the caller may fetch it once more), never a body cut short.
    /// </summary>
    private static async ValueTask AwaitVerifiedAsync(Exchange exchange, Download download)
    {
        while (true)
        {
            var generation = download.Progress.Generation;
            if (download.BodyReceived)
            {
                return;
            }

            if (download.Error is { } error)
            {
                throw Failure(download, error);
            }

            await exchange.Fiber.WaitAsync(download.Progress, generation, exchange.DownloadPatience);
        }
    }

    /// <summary>What a download's failure means for a client following it: bytes that did not match the package
    /// indexes (502, fetched once more by <see cref="CacheHandler"/>), or an origin that broke off.</summary>
    private static ProxyException Failure(Download download, Exception error) => error is Cache.Packages.UnverifiedBodyException
        ? new ProxyException(FailedStep.Unverified, error.Message)
        : new ProxyException(FailedStep.UpstreamBody, $"upstream {download.Url.Authority} broke off the body: {error.Message}");

    private static ResponsePlan Plan(Exchange exchange, StoredResponse stored, long? length) =>
        Announced(exchange, ResponsePlan.For(exchange.Request, stored, length, exchange.Server.Clock.GetUtcNow(), exchange.KeepAlive));

    /// <summary>Tells the exchange the plan's status and connection (for its access record), and returns the plan.</summary>
    private static ResponsePlan Announced(Exchange exchange, ResponsePlan plan)
    {
        exchange.Respond(plan.Status, plan.KeepAlive);
        return plan;
    }
}
