using System.Globalization;

namespace Replicator.Http;

/// <summary>How a message body is delimited (RFC 9112 section 6).</summary>
internal enum BodyKind
{
    None,
    Length,
    Chunked,
    UntilClose,
}

internal readonly record struct Framing(BodyKind Kind, long Length = 0)
{
    public static Framing None { get; } = new(BodyKind.None);

    /// <summary>
    /// How a body framed like this one is delimited towards a client: a known length (or none) as it is; otherwise
    /// chunked for HTTP/1.1 and, for HTTP/1.0, until the connection closes (which ends keep-alive).
    /// </summary>
    public Framing ForClient(bool http11) =>
        Kind is BodyKind.None or BodyKind.Length ? this : new Framing(http11 ? BodyKind.Chunked : BodyKind.UntilClose);
}

internal sealed class RequestHead
{
    public required string Method { get; init; }

    /// <summary>The request-target as sent: absolute-form, origin-form, authority-form (CONNECT) or "*".</summary>
    public required string Target { get; init; }

    /// <summary>1.0 or 1.1 (a later 1.x is treated as 1.1).</summary>
    public required Version Version { get; init; }

    public required HttpHeaders Headers { get; init; }

    public bool IsHttp11 => Version.Minor >= 1;

    /// <summary>Whether the client wants the connection kept after this request (RFC 9112 section 9.3).</summary>
    public bool KeepAlive =>
        IsHttp11 ? !Headers.HasToken("Connection", "close") : Headers.HasToken("Connection", "keep-alive") || Headers.HasToken("Proxy-Connection", "keep-alive");

    /// <summary>The request body's framing; a message that is ambiguous about it is refused (request smuggling).</summary>
    public Framing BodyFraming()
    {
        var transferEncoding = Headers.Get("Transfer-Encoding");
        if (transferEncoding is null && !Headers.Contains("Content-Length"))
        {
            return Framing.None; // most requests: no body, and nothing allocated to say so
        }

        var contentLength = Headers.GetList("Content-Length").ToList();
        if (transferEncoding is not null)
        {
            if (contentLength.Count > 0)
            {
                HttpParseException.Reject(HttpFault.MalformedFraming, "both Transfer-Encoding and Content-Length");
            }

            if (!Headers.GetList("Transfer-Encoding").Last().Equals("chunked", StringComparison.OrdinalIgnoreCase))
            {
                HttpParseException.Reject(HttpFault.MalformedFraming, "a request body must end with chunked transfer coding");
            }

            return new Framing(BodyKind.Chunked);
        }

        return contentLength.Count == 0 ? Framing.None : new Framing(BodyKind.Length, ParseLength(contentLength));
    }

    /// <summary>The body framing, or None when the framing itself is malformed (for deciding whether to close).</summary>
    public Framing BodyFramingOrNone()
    {
        try
        {
            return BodyFraming();
        }
        catch (HttpParseException)
        {
            return new Framing(BodyKind.UntilClose);
        }
    }

    internal static long ParseLength(List<string> values)
    {
        long? length = null;
        foreach (var value in values)
        {
            if (value.Length == 0 || value.Length > 18 || !value.All(char.IsAsciiDigit))
            {
                HttpParseException.Reject(HttpFault.MalformedFraming, $"invalid Content-Length '{value}'");
            }

            var parsed = long.Parse(value, CultureInfo.InvariantCulture);
            if (length is not null && length != parsed)
            {
                HttpParseException.Reject(HttpFault.MalformedFraming, "conflicting Content-Length values");
            }

            length = parsed;
        }

        return length!.Value;
    }
}

internal sealed class ResponseHead
{
    public required Version Version { get; init; }

    public required int Status { get; init; }

    public required string Reason { get; init; }

    public required HttpHeaders Headers { get; init; }

    /// <summary>Whether the server will keep the connection after this response.</summary>
    public bool KeepAlive => Version.Minor >= 1 ? !Headers.HasToken("Connection", "close") : Headers.HasToken("Connection", "keep-alive");

    /// <summary>The body's framing for a response to <paramref name="method"/> (RFC 9112 section 6.3).</summary>
    public Framing BodyFraming(string method)
    {
        if (method == "HEAD" || Status is < 200 or 204 or 304)
        {
            return Framing.None;
        }

        if (Headers.Contains("Transfer-Encoding"))
        {
            return Headers.GetList("Transfer-Encoding").Last().Equals("chunked", StringComparison.OrdinalIgnoreCase)
                ? new Framing(BodyKind.Chunked)
                : new Framing(BodyKind.UntilClose);
        }

        var contentLength = Headers.GetList("Content-Length").ToList();
        return contentLength.Count == 0 ? new Framing(BodyKind.UntilClose) : new Framing(BodyKind.Length, RequestHead.ParseLength(contentLength));
    }
}
