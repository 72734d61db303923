using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Replicator.Http;

namespace Replicator.Cache;

/// <summary>
/// Where a URL lives in the cache tree (docs/cache-layout.md): <c>host:port/path</c>, the query kept as
/// <c>path?query</c> with every '/' in it written %2F, as the original 4.0 did. The names below cannot come from any
/// URL, because a normalised URL has every '%' followed by two hex digits (see <see cref="RequestUrl"/>):
/// <list type="bullet">
/// <item><c>%index</c> is the file of a URL that ends in '/';</item>
/// <item><c>NAME%hash-HEX</c> replaces a name longer than a file name may be.</item>
/// </list>
/// Everything the proxy keeps besides mirrored bodies lives under <c>ROOT/.replicator/</c>, which no URL can reach
/// either: the first component of a mirrored path is always a host:port.
/// </summary>
internal static class CacheLayout
{
    /// <summary>The file name of a URL ending in '/'.</summary>
    public const string IndexName = "%index";

    /// <summary>The proxy's own area under the root (metadata, downloads in progress).</summary>
    public const string PrivateDirectory = ".replicator";

    /// <summary>Longest file name (NAME_MAX on Linux file systems).</summary>
    private const int MaxName = 255;

    /// <summary>The top directory of the files of https origins (ROOT/https/HOST:PORT/PATH).</summary>
    public const string HttpsDirectory = "https";

    /// <summary>An over-long name keeps its start and ends with this marker and the first hex digits of its SHA-256.</summary>
    private const string HashMarker = "%hash-";

    /// <summary>128 bits of the hash: collisions between two over-long names of one directory are out of reach.</summary>
    private const int HashChars = 32;

    private const int HashSuffixBytes = 6 + HashChars;

    /// <summary>Longest relative path we create, well under PATH_MAX with any reasonable root.</summary>
    private const int MaxPath = 3072;

    /// <summary>
    /// The path of <paramref name="url"/> relative to the cache root, with '/' separators; null when the URL cannot
    /// be stored (an empty segment in the middle, or a path too long even after hashing): it is passed through.
    /// </summary>
    public static string? RelativePath(RequestUrl url) => s_relativePaths.TryGetValue(url, out var known) ? known.Path : Remember(url);

    /// <summary>Relative paths per URL instance, computed once (URLs are remembered by the request parser, see
    /// <see cref="RequestUrl.ParseAbsoluteRemembered"/>): a hit does not build its path anew.</summary>
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<RequestUrl, RememberedPath> s_relativePaths = new();

    private static string? Remember(RequestUrl url)
    {
        var path = Compute(url);
        s_relativePaths.AddOrUpdate(url, new RememberedPath(path));
        return path;
    }

    /// <summary>A computed relative path (null: the URL cannot be stored).</summary>
    private sealed record RememberedPath(string? Path);

    private static string? Compute(RequestUrl url)
    {
        var builder = new StringBuilder(url.Host.Length + url.Path.Length + 16);
        if (url.Secure)
        {
            // https copies stand apart from http ones, visibly: below a directory no host:port can be named.
            builder.Append(HttpsDirectory).Append('/');
        }

        builder.Append(url.Host).Append(':').Append(url.Port.ToString(CultureInfo.InvariantCulture));
        var segments = url.Path.Split('/');
        for (var i = 1; i < segments.Length; i++)
        {
            var segment = segments[i];
            var last = i == segments.Length - 1;
            if (last)
            {
                var name = segment.Length == 0 ? IndexName : segment;
                if (url.Query is not null)
                {
                    name += "?" + url.Query.Replace("/", "%2F", StringComparison.Ordinal);
                }

                segment = name;
            }
            else if (segment.Length == 0)
            {
                return null;
            }

            builder.Append('/').Append(FitName(segment));
        }

        return builder.Length > MaxPath ? null : builder.ToString();
    }

    /// <summary>A name short enough for the file system; a longer one keeps its start and gains a hash of the whole.</summary>
    private static string FitName(string name)
    {
        if (Encoding.UTF8.GetByteCount(name) <= MaxName)
        {
            return name;
        }

        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(name)))[..HashChars];
        // Cut on a character boundary, in bytes: the kept start and the suffix fit in NAME_MAX together.
        var kept = name.Length;
        while (Encoding.UTF8.GetByteCount(name.AsSpan(0, kept)) > MaxName - HashSuffixBytes || (kept > 0 && char.IsLowSurrogate(name[kept])))
        {
            kept--;
        }

        return name[..kept] + HashMarker + hash;
    }
}
