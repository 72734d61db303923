using System.Globalization;

namespace Replicator.Http;

internal enum RangeKind
{
    /// <summary>No usable Range: serve the whole representation (absent, malformed, or several ranges).</summary>
    Whole,
    Single,
    Unsatisfiable,
}

/// <summary>
/// A client's byte Range (RFC 9110 section 14) against a representation of known length. One range is served as a
/// 206; several ranges are answered with the whole 200 (allowed, and what every client handles); a range that
/// starts past the end is 416 with "Content-Range: bytes */LEN".
/// </summary>
internal readonly record struct RangeRequest(RangeKind Kind, long Start = 0, long End = 0)
{
    public long Count => End - Start + 1;

    public static RangeRequest Parse(string? header, long length)
    {
        if (header is null || !header.StartsWith("bytes=", StringComparison.OrdinalIgnoreCase))
        {
            return new(RangeKind.Whole);
        }

        var spec = header[6..].Trim();
        if (spec.Contains(',', StringComparison.Ordinal))
        {
            return new(RangeKind.Whole);
        }

        var dash = spec.IndexOf('-', StringComparison.Ordinal);
        if (dash < 0)
        {
            return new(RangeKind.Whole);
        }

        var first = spec[..dash].Trim();
        var last = spec[(dash + 1)..].Trim();
        if (first.Length == 0)
        {
            // Suffix range: the last N bytes.
            if (!TryNumber(last, out var suffix))
            {
                return new(RangeKind.Whole);
            }

            return suffix == 0 || length == 0 ? new(RangeKind.Unsatisfiable) : new(RangeKind.Single, Math.Max(0, length - suffix), length - 1);
        }

        if (!TryNumber(first, out var start) || (last.Length > 0 && (!TryNumber(last, out var end) || end < start)))
        {
            return new(RangeKind.Whole);
        }

        if (start >= length)
        {
            return new(RangeKind.Unsatisfiable);
        }

        var stop = last.Length == 0 ? length - 1 : Math.Min(long.Parse(last, CultureInfo.InvariantCulture), length - 1);
        return new(RangeKind.Single, start, stop);
    }

    private static bool TryNumber(string text, out long value) =>
        long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value);
}
