using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Text;

namespace Replicator.Http;

/// <summary>
/// Parses request and response heads (start line and header fields) from a connection's buffer. Three outcomes,
/// never blurred: false and nothing consumed when the head is not complete yet; an <see cref="HttpParseException"/>
/// when it is malformed or over a limit (however many bytes may follow); true with the head and its length.
/// A start line is checked as soon as its line end arrives, so garbage is refused early.
/// </summary>
internal static class HeadParser
{
    /// <summary>Longest request line (414 past it).</summary>
    public const int MaxRequestLine = 8192;

    /// <summary>Longest head, start line and fields together (431 past it for requests, 502 for responses).</summary>
    public const int MaxHead = 65536;

    private static readonly SearchValues<byte> s_tokenChars =
        SearchValues.Create("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"u8);

    public static bool TryParseRequest(ReadOnlySpan<byte> buffer, [NotNullWhen(true)] out RequestHead? head, out int consumed)
    {
        head = null;
        consumed = 0;

        // A server ought to ignore at least one empty line before the request line (RFC 9112 section 2.2).
        var start = 0;
        while (start < buffer.Length && start < 4 && (buffer[start] == '\r' || buffer[start] == '\n'))
        {
            start++;
        }

        var lineEnd = buffer[start..].IndexOf((byte)'\n');
        if (lineEnd < 0)
        {
            if (buffer.Length - start > MaxRequestLine)
            {
                HttpParseException.Reject(HttpFault.RequestLineTooLong, "request line too long");
            }

            return false;
        }

        lineEnd += start;
        if (lineEnd - start > MaxRequestLine)
        {
            HttpParseException.Reject(HttpFault.RequestLineTooLong, "request line too long");
        }

        var (method, target, version) = ParseRequestLine(TrimCr(buffer[start..lineEnd]));
        var end = FindHeadEnd(buffer, lineEnd + 1);
        if (end < 0)
        {
            if (buffer.Length > MaxHead)
            {
                HttpParseException.Reject(HttpFault.HeadTooLarge, "request header fields too large");
            }

            return false;
        }

        if (end > MaxHead)
        {
            HttpParseException.Reject(HttpFault.HeadTooLarge, "request header fields too large");
        }

        head = new RequestHead { Method = method, Target = target, Version = version, Headers = ParseFields(buffer[(lineEnd + 1)..end]) };
        consumed = end;
        return true;
    }

    public static bool TryParseResponse(ReadOnlySpan<byte> buffer, [NotNullWhen(true)] out ResponseHead? head, out int consumed)
    {
        head = null;
        consumed = 0;
        var lineEnd = buffer.IndexOf((byte)'\n');
        var end = lineEnd < 0 ? -1 : FindHeadEnd(buffer, lineEnd + 1);
        if (end < 0)
        {
            if (buffer.Length > MaxHead)
            {
                HttpParseException.Reject(HttpFault.HeadTooLarge, "response head too large");
            }

            return false;
        }

        var line = TrimCr(buffer[..lineEnd]);
        if (line.Length < 12 || !line.StartsWith("HTTP/1."u8) || !char.IsAsciiDigit((char)line[7]) || line[8] != ' '
            || !char.IsAsciiDigit((char)line[9]) || !char.IsAsciiDigit((char)line[10]) || !char.IsAsciiDigit((char)line[11])
            || (line.Length > 12 && line[12] != ' '))
        {
            HttpParseException.Reject(HttpFault.MalformedStartLine, "malformed status line");
        }

        head = new ResponseHead
        {
            Version = line[7] == '0' ? s_http10 : s_http11,
            Status = ((line[9] - '0') * 100) + ((line[10] - '0') * 10) + (line[11] - '0'),
            Reason = line.Length > 13 ? Encoding.Latin1.GetString(line[13..]) : string.Empty,
            Headers = ParseFields(buffer[(lineEnd + 1)..end]),
        };
        consumed = end;
        return true;
    }

    /// <summary>The offset just past the empty line that ends the fields starting at <paramref name="from"/>, or -1.</summary>
    private static int FindHeadEnd(ReadOnlySpan<byte> buffer, int from)
    {
        var lineStart = from;
        while (lineStart < buffer.Length)
        {
            var newline = buffer[lineStart..].IndexOf((byte)'\n');
            if (newline < 0)
            {
                return -1;
            }

            if (newline == 0 || (newline == 1 && buffer[lineStart] == '\r'))
            {
                return lineStart + newline + 1;
            }

            lineStart += newline + 1;
        }

        return -1;
    }

    private static (string Method, string Target, Version Version) ParseRequestLine(ReadOnlySpan<byte> line)
    {
        var firstSpace = line.IndexOf((byte)' ');
        var lastSpace = line.LastIndexOf((byte)' ');
        if (firstSpace <= 0 || lastSpace == firstSpace)
        {
            HttpParseException.Reject(HttpFault.MalformedStartLine, "malformed request line");
        }

        var method = line[..firstSpace];
        var target = line[(firstSpace + 1)..lastSpace];
        var version = line[(lastSpace + 1)..];
        if (method.IndexOfAnyExcept(s_tokenChars) >= 0)
        {
            HttpParseException.Reject(HttpFault.MalformedStartLine, "malformed method");
        }

        if (target.Length == 0 || target.IndexOfAnyExceptInRange((byte)0x21, (byte)0x7E) >= 0)
        {
            HttpParseException.Reject(HttpFault.MalformedStartLine, "malformed request target (spaces, control or non-ASCII bytes)");
        }

        if (version.Length != 8 || !version.StartsWith("HTTP/"u8) || version[6] != '.' || !char.IsAsciiDigit((char)version[5]) || !char.IsAsciiDigit((char)version[7]))
        {
            HttpParseException.Reject(HttpFault.MalformedStartLine, "malformed HTTP version");
        }

        if (version[5] != '1')
        {
            HttpParseException.Reject(HttpFault.UnsupportedVersion, "only HTTP/1.0 and HTTP/1.1 are supported");
        }

        return (MethodName(method), Encoding.ASCII.GetString(target), version[7] == '0' ? s_http10 : s_http11);
    }

    private static readonly Version s_http10 = new(1, 0), s_http11 = new(1, 1);

    /// <summary>The method's name; the common ones without a new string per request.</summary>
    private static string MethodName(ReadOnlySpan<byte> method) =>
        method.SequenceEqual("GET"u8) ? "GET" : method.SequenceEqual("HEAD"u8) ? "HEAD" : Encoding.ASCII.GetString(method);

    private static HttpHeaders ParseFields(ReadOnlySpan<byte> block)
    {
        var headers = new HttpHeaders();
        while (true)
        {
            var newline = block.IndexOf((byte)'\n');
            var line = TrimCr(block[..newline]);
            block = block[(newline + 1)..];
            if (line.IsEmpty)
            {
                return headers;
            }

            if (line[0] is (byte)' ' or (byte)'\t')
            {
                HttpParseException.Reject(HttpFault.MalformedField, "obsolete line folding in a header field");
            }

            var colon = line.IndexOf((byte)':');
            if (colon <= 0 || line[..colon].IndexOfAnyExcept(s_tokenChars) >= 0)
            {
                HttpParseException.Reject(HttpFault.MalformedField, "malformed header field");
            }

            var value = line[(colon + 1)..].Trim(" \t"u8);
            foreach (var b in value)
            {
                if ((b < 0x20 && b != '\t') || b == 0x7F)
                {
                    HttpParseException.Reject(HttpFault.MalformedField, "control character in a header field");
                }
            }

            headers.Add(Encoding.ASCII.GetString(line[..colon]), Encoding.Latin1.GetString(value));
        }
    }

    private static ReadOnlySpan<byte> TrimCr(ReadOnlySpan<byte> line) => line.Length > 0 && line[^1] == '\r' ? line[..^1] : line;
}
