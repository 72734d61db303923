using System.Globalization;

namespace Replicator.Http;

/// <summary>A 206's Content-Range, "bytes FIRST-LAST/TOTAL" (RFC 9110 section 14.4), as numbers.</summary>
internal readonly record struct ContentRange(long Start, long End, long Total)
{
    /// <summary>The range, or null when the value is absent, unsatisfied ("*/TOTAL") or malformed.</summary>
    public static ContentRange? Parse(string? value)
    {
        if (value is null || !value.StartsWith("bytes ", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        var parts = value[6..].Split('-', '/');
        return parts.Length == 3
            && long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var start)
            && long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var end)
            && long.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out var total)
            && start <= end && end < total
            ? new ContentRange(start, end, total)
            : null;
    }
}
