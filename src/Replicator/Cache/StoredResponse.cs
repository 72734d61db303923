using System.Globalization;
using System.Text;
using Replicator.Http;

namespace Replicator.Cache;

/// <summary>
/// What the cache keeps about a stored body besides its bytes: the response's end-to-end header fields (so a hit
/// carries the same Content-Type, ETag, Cache-Control... as the original response), when it was fetched (for its
/// age), and the body's length and time stamp (to tell that this metadata belongs to the body beside it).
/// Stored as a readable HTTP head under ROOT/.replicator/meta/ (docs/cache-layout.md).
/// </summary>
internal sealed record StoredResponse
{
    private const string Prefix = "X-Replicator-";

    /// <summary>
    /// The one end-to-end field not stored: a stored body is always the whole representation, so a Content-Range
    /// (of a 206 that resumed it) no longer applies. Every other received field is stored and replayed (RFC 9111
    /// section 3.1): Age (the age an upstream cache reported counts in ours, section 4.2.3; the answer carries the
    /// age computed then), Via, unknown fields, and Set-Cookie, which only a response meant for shared caches brings
    /// into storage at all (<see cref="Freshness.IsStorable"/>, section 7.3).
    /// </summary>
    private static readonly HashSet<string> s_notStored = new(StringComparer.OrdinalIgnoreCase)
    {
        "Content-Range",
    };

    /// <summary>The stored fields, already filtered by <see cref="StorableFields"/>: replayed on every hit as they are.</summary>
    public required HttpHeaders Headers
    {
        get;
        init
        {
            // Everything a hit asks of the fields is read here, once per stored response, never per request.
            field = value;
            Control = CacheControl.Parse(value);
            Lifetime = Freshness.Lifetime(value);
            Date = DateOf(value);
            LastModified = HttpDate.TryParse(value["Last-Modified"], out var lastModified) ? lastModified : null;
            ReceivedAge = long.TryParse(value["Age"], NumberStyles.None, CultureInfo.InvariantCulture, out var age) ? TimeSpan.FromSeconds(age) : TimeSpan.Zero;
        }
    }

    /// <summary>The stored Cache-Control directives, parsed once (every hit asks them).</summary>
    public CacheControl Control { get; private init; } = null!;

    /// <summary>How long the response is fresh by its own fields (<see cref="Freshness.Lifetime"/>), computed once.</summary>
    public TimeSpan? Lifetime { get; private init; }

    public required DateTimeOffset RequestTime { get; init; }

    public required DateTimeOffset ResponseTime { get; init; }

    /// <summary>The body's length in bytes.</summary>
    public required long Length { get; init; }

    /// <summary>The body file's modification time: Last-Modified when the response had one, else the response time.</summary>
    public required DateTimeOffset BodyStamp { get; init; }

    public string? Url { get; init; }

    /// <summary>The request's values of the fields the response varies on (Vary), in order; null value: absent.</summary>
    public IReadOnlyList<KeyValuePair<string, string?>> VaryKey { get; init; } = [];

    /// <summary>True when this was made up for a body found without metadata (copied in by hand).</summary>
    public bool Synthesized { get; init; }

    /// <summary>The status of the stored answer: 200 for a body in the tree; another for an answer under .replicator/answers/.</summary>
    public int Status { get; init; } = 200;

    /// <summary>
    /// An unsafe request (PUT, POST, DELETE...) to this URL, or one naming it in Location or Content-Location, got a
    /// non-error answer: the stored response may have changed, and must be validated before it is used again (RFC
    /// 9111 section 4.4). A successful revalidation clears it.
    /// </summary>
    public bool Invalidated { get; init; }

    /// <summary>The body's SHA256 (lower-case hex) when it was verified or is a package index; null otherwise.</summary>
    public string? Sha256 { get; init; }

    /// <summary>The stored Last-Modified, parsed with the fields.</summary>
    public DateTimeOffset? LastModified { get; private init; }

    /// <summary>The Age an upstream cache reported (RFC 9111 section 4.2.3), parsed with the fields; zero when none.</summary>
    public TimeSpan ReceivedAge { get; private init; }

    /// <summary>The response's Date, parsed with the fields (every hit needs it for its age).</summary>
    public DateTimeOffset? Date { get; private init; }

    /// <summary>
    /// What is stored of an origin's response: its storable fields, when it was asked and answered, its length (-1
    /// while unknown), the time its body is dated by (Last-Modified, else the answer's time), its URL and the request
    /// fields its Vary names.
    /// </summary>
    public static StoredResponse FromOrigin(ResponseHead response, HttpHeaders request, string url, long length, DateTimeOffset requestTime, DateTimeOffset responseTime)
    {
        var headers = StorableFields(response.Headers);
        return new StoredResponse
        {
            Status = response.Status == 206 ? 200 : response.Status,
            Headers = headers,
            RequestTime = requestTime,
            ResponseTime = responseTime,
            Length = length,
            BodyStamp = HttpDate.TryParse(headers["Last-Modified"], out var lastModified) ? lastModified : responseTime,
            Url = url,
            VaryKey = VaryKeyOf(response.Headers, request),
        };
    }

    public static DateTimeOffset? DateOf(HttpHeaders headers) => HttpDate.TryParse(headers["Date"], out var value) ? value : null;

    public string? ETag => Headers["ETag"];

    /// <summary>The fields of <paramref name="response"/> worth storing, hop-by-hop ones and Connection-named ones dropped.</summary>
    public static HttpHeaders StorableFields(HttpHeaders response) =>
        response.EndToEnd(name => s_notStored.Contains(name) || name.StartsWith(Prefix, StringComparison.OrdinalIgnoreCase));

    /// <summary>The stored fields updated by a 304's fields (RFC 9111 section 4.3.4).</summary>
    public StoredResponse Refreshed(HttpHeaders notModified, DateTimeOffset requestTime, DateTimeOffset responseTime)
    {
        var updates = StorableFields(notModified);
        var headers = Headers.Clone();
        foreach (var (name, _) in updates.Fields)
        {
            headers.Remove(name);
        }

        foreach (var (name, value) in updates.Fields)
        {
            headers.Add(name, value);
        }

        return this with { Headers = headers, RequestTime = requestTime, ResponseTime = responseTime, Invalidated = false };
    }

    public byte[] Serialize()
    {
        var text = new StringBuilder("HTTP/1.1 ").Append(Status.ToString(CultureInfo.InvariantCulture)).Append(' ').Append(HeadWriter.ReasonPhrase(Status)).Append("\r\n");
        Headers.WriteTo(text);
        Append(text, "Url", Url ?? string.Empty);
        Append(text, "Request-Time", RequestTime.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture));
        Append(text, "Response-Time", ResponseTime.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture));
        Append(text, "Length", Length.ToString(CultureInfo.InvariantCulture));
        Append(text, "Body-Stamp", BodyStamp.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture));
        if (Invalidated)
        {
            Append(text, "Invalidated", "1");
        }

        if (Sha256 is not null)
        {
            Append(text, "Sha256", Sha256);
        }

        foreach (var (name, value) in VaryKey)
        {
            Append(text, "Vary-" + (value is null ? "Absent" : "Value"), value is null ? name : $"{name}={value}");
        }

        text.Append("\r\n");
        return Encoding.Latin1.GetBytes(text.ToString());
    }

    /// <summary>Reads what <see cref="Serialize"/> wrote; null when it is damaged or incomplete.</summary>
    public static StoredResponse? TryParse(ReadOnlySpan<byte> bytes)
    {
        try
        {
            if (!HeadParser.TryParseResponse(bytes, out var head, out _))
            {
                return null;
            }

            var vary = new List<KeyValuePair<string, string?>>();
            foreach (var (name, value) in head.Headers.Fields)
            {
                if (name.Equals(Prefix + "Vary-Value", StringComparison.OrdinalIgnoreCase))
                {
                    // Normalised once here (metadata written before normalisation, or edited by hand), never per request.
                    var equals = value.IndexOf('=', StringComparison.Ordinal);
                    vary.Add(new(value[..equals], Normalized(value[..equals], [value[(equals + 1)..]])));
                }
                else if (name.Equals(Prefix + "Vary-Absent", StringComparison.OrdinalIgnoreCase))
                {
                    vary.Add(new(value, null));
                }
            }

            // Filtered once here, as when it was stored (a metadata file may have been edited by hand): every hit
            // replays these fields as they are.
            var headers = StorableFields(head.Headers);

            return new StoredResponse
            {
                Headers = headers,
                Url = head.Headers[Prefix + "Url"],
                RequestTime = Time(head.Headers, "Request-Time"),
                ResponseTime = Time(head.Headers, "Response-Time"),
                Length = long.Parse(head.Headers[Prefix + "Length"]!, CultureInfo.InvariantCulture),
                BodyStamp = Time(head.Headers, "Body-Stamp"),
                VaryKey = vary,
                Invalidated = head.Headers[Prefix + "Invalidated"] == "1",
                Sha256 = head.Headers[Prefix + "Sha256"],
                Status = head.Status,
            };
        }
        catch (Exception e) when (e is HttpParseException or FormatException or ArgumentNullException or OverflowException or ArgumentOutOfRangeException)
        {
            return null;
        }
    }

    /// <summary>The key a request must match to be served this response (RFC 9111 section 4.1).</summary>
    public static List<KeyValuePair<string, string?>> VaryKeyOf(HttpHeaders response, HttpHeaders request) =>
        [.. response.GetList("Vary").Select(name => new KeyValuePair<string, string?>(name.ToLowerInvariant(), Normalized(name, request.GetList(name))))];

    /// <summary>Whether the request's selecting fields match the stored ones (stored already normalised).</summary>
    public bool MatchesVary(HttpHeaders request)
    {
        // Asked on every hit, most often of a response without Vary: a loop, no closure.
        foreach (var (name, value) in VaryKey)
        {
            if (!string.Equals(value, Normalized(name, request.GetList(name)), StringComparison.Ordinal))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// A selecting field's value as compared for Vary (RFC 9111 section 4.1): its field lines combined, the list
    /// members trimmed and joined with ", ", and lower-cased for the fields whose values are case-insensitive
    /// (content negotiation: the Accept family). Null when the field is absent.
    /// </summary>
    public static string? Normalized(string name, IEnumerable<string> members)
    {
        var list = members.Select(member => member.Trim()).Where(member => member.Length > 0).ToList();
        if (list.Count == 0)
        {
            return null;
        }

        var value = string.Join(", ", list);
        return s_caseInsensitive.Contains(name) ? value.ToLowerInvariant() : value;
    }

    private static readonly HashSet<string> s_caseInsensitive = new(StringComparer.OrdinalIgnoreCase)
    {
        "Accept", "Accept-Encoding", "Accept-Language", "Accept-Charset",
    };

    private static void Append(StringBuilder text, string name, string value) => text.Append(Prefix).Append(name).Append(": ").Append(value).Append("\r\n");

    private static DateTimeOffset Time(HttpHeaders headers, string name) =>
        DateTimeOffset.FromUnixTimeMilliseconds(long.Parse(headers[Prefix + name]!, CultureInfo.InvariantCulture));
}
