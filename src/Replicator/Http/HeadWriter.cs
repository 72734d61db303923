using System.Globalization;
using System.Text;

namespace Replicator.Http;

/// <summary>
/// Writes HTTP/1.1 heads (RFC 9112 sections 3, 4 and 6): a start line, the fields, the framing of the body that
/// follows (Content-Length or chunked), and for a response that ends the connection, Connection: close.
/// </summary>
internal static class HeadWriter
{
    /// <summary>A request head; <paramref name="target"/> in origin-form or absolute form, as the caller decides.</summary>
    public static byte[] Request(string method, string target, HttpHeaders fields, Framing body)
    {
        var text = new StringBuilder(256);
        text.Append(method).Append(' ').Append(target).Append(" HTTP/1.1\r\n");
        fields.WriteTo(text);
        AppendFraming(text, body);
        text.Append("\r\n");
        return Encoding.Latin1.GetBytes(text.ToString());
    }

    /// <summary>A response head; the framing says how its body is delimited.</summary>
    public static byte[] Response(int status, string reason, HttpHeaders fields, Framing body, bool keepAlive)
    {
        var text = new StringBuilder(256);
        text.Append("HTTP/1.1 ").Append(status.ToString(CultureInfo.InvariantCulture)).Append(' ').Append(reason).Append("\r\n");
        fields.WriteTo(text);
        AppendFraming(text, body);
        if (!keepAlive)
        {
            text.Append("Connection: close\r\n");
        }

        text.Append("\r\n");
        return Encoding.Latin1.GetBytes(text.ToString());
    }

    /// <summary>The reason phrase of a status the proxy sends.</summary>
    public static string ReasonPhrase(int status) => status switch
    {
        200 => "OK",
        203 => "Non-Authoritative Information",
        204 => "No Content",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        308 => "Permanent Redirect",
        410 => "Gone",
        206 => "Partial Content",
        304 => "Not Modified",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        412 => "Precondition Failed",
        414 => "URI Too Long",
        416 => "Range Not Satisfiable",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "Status",
    };

    private static void AppendFraming(StringBuilder text, Framing body)
    {
        if (body.Kind == BodyKind.Length)
        {
            text.Append("Content-Length: ").Append(body.Length.ToString(CultureInfo.InvariantCulture)).Append("\r\n");
        }
        else if (body.Kind == BodyKind.Chunked)
        {
            text.Append("Transfer-Encoding: chunked\r\n");
        }
    }
}
