using Replicator.Http;

namespace Replicator.Proxy;

/// <summary>
/// Why: apt-cacher-ng and approx are used without proxy settings, by writing the cache into the sources list
/// (<c>deb http://cache:8080/deb.debian.org/debian bookworm main</c>). A request in origin form to the proxy is read
/// as such a mirror URL: <c>/HOST[:PORT]/PATH</c> is <c>http://HOST[:PORT]/PATH</c>, and <c>/NAME/PATH</c> is PATH
/// below the URLs of <c>--mirror NAME=URL</c>, tried in order when one fails. Either lands in the same file of the
/// tree as a proxied request for that URL (one cache, two ways in). <c>/https/HOST[:PORT]/PATH</c>, and a --mirror URL
/// in https, are fetched over TLS (and kept under ROOT/https/). The proxy's own pages keep "/" and
/// <see cref="OwnPrefix"/>, which no host name can take (a host name never starts with a dot).
/// </summary>
internal sealed class MirrorRoutes
{
    /// <summary>The prefix of the proxy's own pages.</summary>
    public const string OwnPrefix = "/.replicator/";

    /// <summary>The first segment of an https mirror URL (/https/HOST/PATH); it cannot name a host or a backend.</summary>
    public const string HttpsPrefix = "https";

    public static MirrorRoutes None { get; } = new([]);

    private readonly Dictionary<string, List<string>> _byName = new(StringComparer.OrdinalIgnoreCase);

    /// <param name="mirrors">Named backends in order; a name given twice gets both URLs, the first tried first.</param>
    public MirrorRoutes(IEnumerable<(string Name, string Url)> mirrors)
    {
        foreach (var (name, url) in mirrors)
        {
            if (!_byName.TryGetValue(name, out var urls))
            {
                _byName[name] = urls = [];
            }

            urls.Add(url.TrimEnd('/'));
        }
    }

    /// <summary>Parses "NAME=URL" (--mirror); throws <see cref="FormatException"/> with the reason.</summary>
    public static (string Name, string Url) ParseMirror(string spec)
    {
        var equals = spec.IndexOf('=', StringComparison.Ordinal);
        var name = equals < 0 ? string.Empty : spec[..equals];
        if (name.Length == 0 || name == HttpsPrefix || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
        {
            throw new FormatException($"'{spec}' is not NAME=URL (a name of letters, digits, '-' and '_', such as debian=http://deb.debian.org/debian)");
        }

        var url = spec[(equals + 1)..];
        try
        {
            var parsed = RequestUrl.ParseAbsolute(url, allowHttps: true);
            if (parsed.Query is not null)
            {
                throw new FormatException($"'{url}' has a query; a mirror URL is a directory");
            }
        }
        catch (HttpParseException e)
        {
            throw new FormatException($"'{url}' is not an http or https URL: {e.Message}");
        }

        return (name, url);
    }

    /// <summary>
    /// The upstream URLs an origin-form request target stands for, in the order to try them; null when the target is
    /// the proxy's own (its page, or anything below <see cref="OwnPrefix"/>). Throws <see cref="HttpParseException"/>
    /// (400) for a target that is neither.
    /// </summary>
    public IReadOnlyList<RequestUrl>? Resolve(string target)
    {
        if (target == "*" || target == "/" || target == "/favicon.ico" || target.StartsWith("/?", StringComparison.Ordinal) || target.StartsWith(OwnPrefix, StringComparison.Ordinal))
        {
            return null;
        }

        var end = target.IndexOfAny(['/', '?'], 1);
        var first = end < 0 ? target[1..] : target[1..end];
        var rest = end < 0 ? "/" : target[end] == '?' ? "/" + target[end..] : target[end..];
        if (_byName.TryGetValue(first, out var bases))
        {
            return [.. bases.Select(baseUrl => RequestUrl.ParseAbsolute(baseUrl + rest, allowHttps: true))];
        }

        if (first == HttpsPrefix && rest.Length > 1)
        {
            // /https/HOST[:PORT]/PATH: the explicit form of an https mirror URL.
            return [RequestUrl.ParseAbsolute("https:/" + rest, allowHttps: true)];
        }

        if (first.Length == 0 || first.StartsWith('.'))
        {
            HttpParseException.Reject(HttpFault.MalformedUrl, $"'{target}' is neither a mirror URL (/HOST/PATH, /NAME/PATH) nor a page of this proxy");
        }

        return [RequestUrl.ParseAbsolute("http://" + first + rest)];
    }
}
