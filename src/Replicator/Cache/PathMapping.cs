using System.Globalization;

namespace Replicator.Cache;

/// <summary>
/// What --alias and --flat do to a URL's place in the tree (docs/user-guide.md).
///
/// --alias PATH:PREFIX1[:PREFIX2...] maps URL prefixes to one cache directory. A PREFIX is host[:port]/path (no
/// scheme; port 80 when absent), compared with the URL's cache path (host:port/path, normalised, host lower-cased)
/// segment by segment: it matches anything below it (never "debian2" for "debian", nor the prefix itself). The matched
/// prefix is replaced by PATH, a relative directory under the root: "debian:deb.debian.org/debian:ftp.de.debian.org/debian"
/// stores both mirrors' files under ROOT/debian/. PATH has no ':' and does not start with '.', so it can collide with
/// neither a host:port directory nor ROOT/.replicator. The first alias that matches wins.
///
/// --flat keeps only the last name (query included): every file lands in ROOT itself, as in the original.
/// </summary>
internal sealed class PathMapping
{
    private readonly List<(string Target, string[] Prefixes)> _aliases;

    public PathMapping(IReadOnlyList<(string Target, string[] Prefixes)> aliases, bool flat)
    {
        _aliases = [.. aliases];
        Flat = flat;
    }

    public static PathMapping None { get; } = new([], flat: false);

    public bool Flat { get; }

    /// <summary>Parses one --alias value; throws <see cref="FormatException"/> saying what is wrong.</summary>
    public static (string Target, string[] Prefixes) ParseAlias(string value)
    {
        var pieces = new List<string>();
        foreach (var piece in value.Split(':'))
        {
            // "host:8080/path" was split at its port: a piece that starts with digits and a '/' belongs to the one before.
            var digits = piece.TakeWhile(char.IsAsciiDigit).Count();
            if (pieces.Count > 1 && digits > 0 && (digits == piece.Length || piece[digits] == '/'))
            {
                pieces[^1] += ":" + piece;
            }
            else
            {
                pieces.Add(piece);
            }
        }

        if (pieces.Count < 2)
        {
            throw new FormatException($"'{value}' is not PATH:PREFIX[:PREFIX...]");
        }

        var target = pieces[0].Trim('/');
        if (target.Length == 0 || target.StartsWith('.') || target.Split('/').Any(segment => segment is "" or "." or ".."))
        {
            throw new FormatException($"'{pieces[0]}' is not a relative directory (no '..', not starting with '.')");
        }

        return (target, [.. pieces.Skip(1).Select(NormalisePrefix)]);
    }

    /// <summary>
    /// --flat: whether the file held under a name (stored from <paramref name="holderUrl"/>; null if put there by hand)
    /// belongs to another URL than <paramref name="url"/>. It is then neither served for it nor overwritten by it.
    /// </summary>
    public bool HeldByAnother(string? holderUrl, Http.RequestUrl url) => Flat && holderUrl != url.ToString(); // the URL's text only in flat mode: a hit asks this

    /// <summary>
    /// The path under the root where <paramref name="relativePath"/> (host:port/path) is kept: itself without --alias
    /// and --flat; otherwise mapped once per relative-path instance (one per URL, see CacheLayout.RelativePath), so
    /// that a hit neither maps anew nor hands the store a new string each time.
    /// </summary>
    public string Map(string relativePath)
    {
        if (_aliases.Count == 0 && !Flat)
        {
            return relativePath;
        }

        if (_mapped.TryGetValue(relativePath, out var known))
        {
            return known;
        }

        var mapped = MapAnew(relativePath);
        _mapped.AddOrUpdate(relativePath, mapped);
        return mapped;
    }

    private readonly System.Runtime.CompilerServices.ConditionalWeakTable<string, string> _mapped = new();

    private string MapAnew(string relativePath)
    {
        foreach (var (target, prefixes) in _aliases)
        {
            foreach (var prefix in prefixes)
            {
                if (relativePath.Length > prefix.Length && relativePath[prefix.Length] == '/' && relativePath.StartsWith(prefix, StringComparison.Ordinal))
                {
                    relativePath = target + relativePath[prefix.Length..];
                    return Flat ? LastName(relativePath) : relativePath;
                }
            }
        }

        return Flat ? LastName(relativePath) : relativePath;
    }

    private static string LastName(string relativePath) => relativePath[(relativePath.LastIndexOf('/') + 1)..];

    private static string NormalisePrefix(string prefix)
    {
        var slash = prefix.IndexOf('/', StringComparison.Ordinal);
        var authority = slash < 0 ? prefix : prefix[..slash];
        var path = slash < 0 ? string.Empty : prefix[slash..].TrimEnd('/');
        if (authority.Length == 0)
        {
            throw new FormatException($"'{prefix}' has no host (host[:port]/path)");
        }

        var colon = authority.LastIndexOf(':');
        if (colon < 0 || authority.EndsWith(']'))
        {
            authority += ":80";
        }
        else if (!int.TryParse(authority[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
        {
            throw new FormatException($"'{prefix}' has a bad port");
        }

        return authority.ToLowerInvariant() + path;
    }
}
