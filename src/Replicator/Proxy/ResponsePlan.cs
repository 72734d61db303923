using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Unicode;
using Replicator.Cache;
using Replicator.Http;

namespace Replicator.Proxy;

/// <summary>
/// How a stored response is answered, decided without touching a socket or a file: the status (200, 206, 304 or
/// 416), the head to send, the part of the body that follows it (Count -1: unknown, until the end), its framing
/// towards this client, and whether the connection stays open. A pure function of the request, the stored
/// response, the body's length (null while it is still downloading with no announced length) and the time.
/// </summary>
internal readonly record struct ResponsePlan(int Status, byte[] Head, long Offset, long Count, bool Chunked, bool KeepAlive)
{
    /// <summary>The status line and stored fields of a plain 200, per stored response (see <see cref="PlainPlan"/>).</summary>
    private static readonly ConditionalWeakTable<StoredResponse, byte[]> s_plainFields = new();

    /// <summary>The fields a 304 carries (RFC 9110 section 15.4.5), besides Age and Via.</summary>
    private static readonly string[] s_notModifiedFields = ["Cache-Control", "Content-Location", "Date", "ETag", "Expires", "Vary", "Last-Modified"];

    public static ResponsePlan For(RequestHead request, StoredResponse stored, long? length, DateTimeOffset now, bool keepAlive)
    {
        if (length is { } whole && IsPlain(request))
        {
            return PlainPlan(request, stored, whole, now, keepAlive);
        }

        var headers = stored.Headers.Clone();
        if (!stored.Synthesized)
        {
            headers.Set("Age", AgeSeconds(stored, now).ToString(CultureInfo.InvariantCulture));
        }

        ProxyHeads.AddVia(headers, request.Version);
        if (Conditionals.NotModified(request.Headers, stored.ETag, stored.LastModified ?? stored.BodyStamp))
        {
            var selected = new HttpHeaders();
            foreach (var (name, value) in headers.Fields)
            {
                if (s_notModifiedFields.Contains(name, StringComparer.OrdinalIgnoreCase) || name is "Age" or "Via")
                {
                    selected.Add(name, value);
                }
            }

            return Answer(request, 304, selected, Framing.None, 0, 0, keepAlive);
        }

        if (length is not { } total)
        {
            var framing = new Framing(BodyKind.Chunked).ForClient(request.IsHttp11);
            return Answer(request, 200, headers, framing, 0, -1, keepAlive && framing.Kind != BodyKind.UntilClose);
        }

        headers.Set("Accept-Ranges", "bytes");
        var range = request.Method == "GET" && Conditionals.IfRangeHolds(request.Headers, stored.ETag, stored.LastModified)
            ? RangeRequest.Parse(request.Headers["Range"], total)
            : new RangeRequest(RangeKind.Whole);
        switch (range.Kind)
        {
            case RangeKind.Single:
                headers.Set("Content-Range", $"bytes {range.Start}-{range.End}/{total}");
                return Answer(request, 206, headers, new Framing(BodyKind.Length, range.Count), range.Start, range.Count, keepAlive);
            case RangeKind.Unsatisfiable:
                var refusal = new HttpHeaders();
                refusal.Add("Content-Range", $"bytes */{total}");
                return Answer(request, 416, refusal, new Framing(BodyKind.Length, 0), 0, 0, keepAlive);
            default:
                return Answer(request, 200, headers, new Framing(BodyKind.Length, total), 0, total, keepAlive);
        }
    }

    /// <summary>A request for the whole body with no validator: answered 200 with the stored fields as they are.</summary>
    public static bool IsPlain(RequestHead request) =>
        !request.Headers.Contains("Range") && !request.Headers.Contains("If-None-Match") && !request.Headers.Contains("If-Modified-Since");

    /// <summary>The most the fields written per plain answer take (Age, Via, Accept-Ranges, Content-Length, Connection).</summary>
    private const int PlainTailCapacity = 192;

    /// <summary>
    /// The plan of a plain 200 whose head the caller writes itself with <see cref="WritePlainHead"/> (a small body
    /// served from memory): status, body part and connection as <see cref="For"/> decides them, no head array.
    /// </summary>
    public static ResponsePlan PlainWithoutHead(RequestHead request, long length, bool keepAlive) =>
        Planned(request, 200, [], 0, length, chunked: false, keepAlive);

    /// <summary>Room enough for <see cref="WritePlainHead"/>'s head.</summary>
    public static int PlainHeadCapacity(StoredResponse stored) => PlainFields(stored).Length + PlainTailCapacity;

    /// <summary>
    /// The head of a plain 200 written into <paramref name="destination"/> (at least <see cref="PlainHeadCapacity"/>
    /// long), its length returned: a small body served from memory goes out in the same buffer, with no head array
    /// made per hit. A HEAD request gets the same head (its plan, <see cref="PlainWithoutHead"/>, has no body).
    /// </summary>
    public static int WritePlainHead(RequestHead request, StoredResponse stored, long length, DateTimeOffset now, bool keepAlive, Span<byte> destination)
    {
        var fields = PlainFields(stored);
        fields.CopyTo(destination);
        return fields.Length + WritePlainTail(request, stored, length, now, keepAlive, destination[fields.Length..]);
    }

    /// <summary>
    /// The head of a plain 200, byte for byte what the general path builds: the status line and stored fields,
    /// encoded once per stored response (<see cref="s_plainFields"/>), then the fields that change per answer. This
    /// is the hit path: no field table is built for it.
    /// </summary>
    private static ResponsePlan PlainPlan(RequestHead request, StoredResponse stored, long length, DateTimeOffset now, bool keepAlive)
    {
        var fields = PlainFields(stored);
        Span<byte> tail = stackalloc byte[PlainTailCapacity];
        var written = WritePlainTail(request, stored, length, now, keepAlive, tail);
        return Planned(request, 200, [.. fields, .. tail[..written]], 0, length, chunked: false, keepAlive);
    }

    private static byte[] PlainFields(StoredResponse stored) => s_plainFields.GetValue(stored, static stored =>
    {
        var headers = stored.Headers.Clone();
        headers.Remove("Accept-Ranges");
        headers.Remove("Age"); // the age is computed per answer (RFC 9111 section 5.1)
        var text = new StringBuilder("HTTP/1.1 200 OK\r\n");
        headers.WriteTo(text);
        return Encoding.Latin1.GetBytes(text.ToString());
    });

    private static int WritePlainTail(RequestHead request, StoredResponse stored, long length, DateTimeOffset now, bool keepAlive, Span<byte> tail)
    {
        var written = 0;
        if (!stored.Synthesized)
        {
            Utf8.TryWrite(tail, CultureInfo.InvariantCulture, $"Age: {AgeSeconds(stored, now)}\r\n", out written);
        }

        var close = keepAlive ? string.Empty : "Connection: close\r\n";
        Utf8.TryWrite(tail[written..], CultureInfo.InvariantCulture, $"Via: {ProxyHeads.ViaHop(request.Version)}\r\nAccept-Ranges: bytes\r\nContent-Length: {length}\r\n{close}\r\n", out var rest);
        return written + rest;
    }

    private static long AgeSeconds(StoredResponse stored, DateTimeOffset now) => (long)Freshness.Age(stored, now).TotalSeconds;

    private static ResponsePlan Answer(RequestHead request, int status, HttpHeaders headers, Framing framing, long offset, long count, bool keepAlive) =>
        Planned(request, status, HeadWriter.Response(status, HeadWriter.ReasonPhrase(status), headers, framing, keepAlive), offset, count, framing.Kind == BodyKind.Chunked, keepAlive);

    /// <summary>A HEAD request gets the head alone.</summary>
    private static ResponsePlan Planned(RequestHead request, int status, byte[] head, long offset, long count, bool chunked, bool keepAlive) =>
        request.Method == "HEAD" ? new ResponsePlan(status, head, 0, 0, false, keepAlive) : new ResponsePlan(status, head, offset, count, chunked, keepAlive);
}
