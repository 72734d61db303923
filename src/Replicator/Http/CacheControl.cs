using System.Globalization;

namespace Replicator.Http;

/// <summary>The directives of a Cache-Control field (RFC 9111 section 5.2), names lower-cased, quotes removed.</summary>
internal sealed class CacheControl
{
    private readonly Dictionary<string, string?> _directives = new(StringComparer.OrdinalIgnoreCase);

    private CacheControl()
    {
    }

    /// <summary>Directives of a message without Cache-Control (most requests): shared, never changed.</summary>
    private static readonly CacheControl s_none = new();

    public static CacheControl Parse(HttpHeaders headers)
    {
        if (!headers.Contains("Cache-Control"))
        {
            return s_none;
        }

        var result = new CacheControl();
        foreach (var item in headers.GetList("Cache-Control"))
        {
            var equals = item.IndexOf('=', StringComparison.Ordinal);
            var name = (equals < 0 ? item : item[..equals]).Trim();
            var value = equals < 0 ? null : item[(equals + 1)..].Trim().Trim('"');
            result._directives.TryAdd(name, value);
        }

        return result;
    }

    public bool Has(string directive) => _directives.ContainsKey(directive);

    /// <summary>Whether the directive came with an argument (max-stale may come without: any staleness).</summary>
    public bool HasArgument(string directive) => _directives.TryGetValue(directive, out var value) && value is not null;

    /// <summary>A delta-seconds directive (max-age, s-maxage); a malformed value counts as 0, which is the safe reading.</summary>
    public TimeSpan? Seconds(string directive) =>
        !_directives.TryGetValue(directive, out var value) ? null
        : long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds) ? TimeSpan.FromSeconds(Math.Min(seconds, int.MaxValue))
        : TimeSpan.Zero;
}
