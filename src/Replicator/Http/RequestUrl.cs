using System.Globalization;
using System.Text;

namespace Replicator.Http;

/// <summary>
/// An http URL from a request line, normalised (RFC 3986 section 6.2.2): scheme and host lower-cased, default port
/// made explicit, percent-encoded unreserved characters decoded, other percent-encodings upper-cased, dot segments
/// removed (a path can never climb above its root). After this, every '%' in the path is followed by two hex digits:
/// the cache layout relies on that to make names that no URL can produce.
/// </summary>
internal sealed record RequestUrl(string Host, int Port, string Path, string? Query)
{
    public const int DefaultPort = 80;

    public const int DefaultHttpsPort = 443;

    /// <summary>An https URL: fetched over TLS (mirror URLs and named backends only; clients use CONNECT for https).</summary>
    public bool Secure { get; init; }

    public string PathAndQuery => Query is null ? Path : $"{Path}?{Query}";

    /// <summary>The Host header value: the port is kept unless it is the scheme's default (the original dropped it).</summary>
    public string Authority => HasDefaultPort ? Host : $"{Host}:{Port.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>The port is the scheme's default, and so is left out of <see cref="Authority"/>.</summary>
    private bool HasDefaultPort => Port == (Secure ? DefaultHttpsPort : DefaultPort);

    public override string ToString() => $"{(Secure ? "https" : "http")}://{Authority}{PathAndQuery}";

    /// <summary>Writes <see cref="ToString"/>'s text without making the string (the access log, once per request).</summary>
    public void WriteTo(TextWriter output)
    {
        output.Write(Secure ? "https://" : "http://");
        output.Write(Host);
        if (!HasDefaultPort)
        {
            output.Write(':');
            output.WriteNumber(Port);
        }

        output.Write(Path);
        if (Query is not null)
        {
            output.Write('?');
            output.Write(Query);
        }
    }

    /// <summary>The URLs parsed lately on this thread, by request target (see <see cref="ParseAbsoluteRemembered"/>).</summary>
    [ThreadStatic]
    private static Dictionary<string, RequestUrl>? s_recent;

    /// <summary>How many targets a thread remembers before it starts afresh.</summary>
    private const int RecentTargets = 1024;

    /// <summary>
    /// <see cref="ParseAbsolute"/>, remembered per thread (each engine loop has its own): a cache hit for a URL asked
    /// before costs a dictionary lookup instead of a parse and its allocations (issue 13: a hit's garbage makes its
    /// tail). A URL is immutable once parsed, so one instance may serve any number of requests.
    /// </summary>
    public static RequestUrl ParseAbsoluteRemembered(string target)
    {
        var recent = s_recent ??= new Dictionary<string, RequestUrl>(StringComparer.Ordinal);
        if (recent.TryGetValue(target, out var url))
        {
            return url;
        }

        url = ParseAbsolute(target);
        if (recent.Count >= RecentTargets)
        {
            recent.Clear();
        }

        recent[target] = url;
        return url;
    }

    /// <summary>
    /// Parses an absolute-form request target; throws <see cref="HttpParseException"/> (400) when it is not a valid
    /// http URL (or https, when <paramref name="allowHttps"/>: the proxy's own mirror routes).
    /// </summary>
    public static RequestUrl ParseAbsolute(string target, bool allowHttps = false)
    {
        var secure = allowHttps && target.StartsWith("https://", StringComparison.OrdinalIgnoreCase);
        if (!secure && !target.StartsWith("http://", StringComparison.OrdinalIgnoreCase))
        {
            HttpParseException.Reject(HttpFault.MalformedUrl, target.StartsWith("https://", StringComparison.OrdinalIgnoreCase)
                ? "https URLs go through CONNECT"
                : "only http URLs can be proxied");
        }

        var rest = target.AsSpan(secure ? 8 : 7);
        var fragment = rest.IndexOf('#');
        if (fragment >= 0)
        {
            rest = rest[..fragment];
        }

        var pathStart = rest.IndexOfAny('/', '?');
        var authority = pathStart < 0 ? rest : rest[..pathStart];
        var (host, port) = ParseAuthority(authority.ToString(), secure ? DefaultHttpsPort : DefaultPort);
        var pathAndQuery = pathStart < 0 ? "/" : rest[pathStart..].ToString();
        var question = pathAndQuery.IndexOf('?', StringComparison.Ordinal);
        var path = question < 0 ? pathAndQuery : pathAndQuery[..question];
        var query = question < 0 ? null : pathAndQuery[(question + 1)..];
        return new RequestUrl(host, port, NormalizePath(path.Length == 0 ? "/" : path), query is null ? null : NormalizeEncoding(query, keepReserved: true)) { Secure = secure };
    }

    /// <summary>Parses "host[:port]" (CONNECT targets, URL authorities); the host must be a DNS name or an IP literal.</summary>
    public static (string Host, int Port) ParseAuthority(string authority, int defaultPort)
    {
        if (authority.Contains('@', StringComparison.Ordinal))
        {
            HttpParseException.Reject(HttpFault.MalformedUrl, "user information in the URL is not allowed");
        }

        string host;
        var portText = string.Empty;
        if (authority.StartsWith('['))
        {
            var close = authority.IndexOf(']', StringComparison.Ordinal);
            if (close < 0 || !System.Net.IPAddress.TryParse(authority[1..close], out var v6) || v6.AddressFamily != System.Net.Sockets.AddressFamily.InterNetworkV6)
            {
                HttpParseException.Reject(HttpFault.MalformedUrl, "malformed IPv6 host");
            }

            host = authority[..(close + 1)].ToLowerInvariant();
            if (close + 1 < authority.Length)
            {
                if (authority[close + 1] != ':')
                {
                    HttpParseException.Reject(HttpFault.MalformedUrl, "malformed host");
                }

                portText = authority[(close + 2)..];
            }
        }
        else
        {
            var colon = authority.LastIndexOf(':');
            host = (colon < 0 ? authority : authority[..colon]).ToLowerInvariant();
            portText = colon < 0 ? string.Empty : authority[(colon + 1)..];
            if (host.Length == 0 || host.Length > 253 || !host.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '.' or '_') || host.StartsWith('.') || host.Contains("..", StringComparison.Ordinal))
            {
                HttpParseException.Reject(HttpFault.MalformedUrl, "malformed host name");
            }
        }

        var port = defaultPort;
        if (portText.Length > 0 && (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out port) || port is < 1 or > 65535))
        {
            HttpParseException.Reject(HttpFault.MalformedUrl, "malformed port");
        }

        return (host, port);
    }

    /// <summary>Normalises percent-encoding and removes dot segments (RFC 3986 section 5.2.4).</summary>
    internal static string NormalizePath(string path)
    {
        var output = new List<string>();
        var segments = NormalizeEncoding(path, keepReserved: false).Split('/');
        // segments[0] is the empty string before the leading '/'.
        for (var i = 1; i < segments.Length; i++)
        {
            var segment = segments[i];
            var last = i == segments.Length - 1;
            if (segment == ".")
            {
                if (last)
                {
                    output.Add(string.Empty);
                }
            }
            else if (segment == "..")
            {
                if (output.Count > 0)
                {
                    output.RemoveAt(output.Count - 1);
                }

                if (last)
                {
                    output.Add(string.Empty);
                }
            }
            else
            {
                output.Add(segment);
            }
        }

        return "/" + string.Join('/', output);
    }

    /// <summary>Decodes %XX of unreserved characters, upper-cases the hex of the others, refuses a bare '%'.</summary>
    private static string NormalizeEncoding(string text, bool keepReserved)
    {
        if (!text.Contains('%', StringComparison.Ordinal))
        {
            return text;
        }

        var builder = new StringBuilder(text.Length);
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c != '%')
            {
                builder.Append(c);
                continue;
            }

            if (i + 2 >= text.Length || !char.IsAsciiHexDigit(text[i + 1]) || !char.IsAsciiHexDigit(text[i + 2]))
            {
                HttpParseException.Reject(HttpFault.MalformedUrl, "invalid percent-encoding in the URL");
            }

            var decoded = (char)Convert.ToByte(text.Substring(i + 1, 2), 16);
            if (!keepReserved && (char.IsAsciiLetterOrDigit(decoded) || decoded is '-' or '.' or '_' or '~'))
            {
                builder.Append(decoded);
            }
            else
            {
                builder.Append('%').Append(char.ToUpperInvariant(text[i + 1])).Append(char.ToUpperInvariant(text[i + 2]));
            }

            i += 2;
        }

        return builder.ToString();
    }
}
