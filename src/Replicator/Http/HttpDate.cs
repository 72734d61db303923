using System.Globalization;

namespace Replicator.Http;

/// <summary>HTTP dates (RFC 9110 section 5.6.7): IMF-fixdate out; IMF-fixdate, RFC 850 and asctime in.</summary>
internal static class HttpDate
{
    private static readonly string[] s_formats =
    [
        "r",
        "dddd, dd-MMM-yy HH:mm:ss 'GMT'",
        "ddd MMM d HH:mm:ss yyyy",
        "ddd MMM  d HH:mm:ss yyyy",
        "ddd, dd MMM yyyy HH:mm:ss '+0000'",
        "ddd, dd MMM yyyy HH:mm:ss '+0000 GMT'",
    ];

    public static string Format(DateTimeOffset value) => value.ToUniversalTime().ToString("r", CultureInfo.InvariantCulture);

    public static bool TryParse(string? text, out DateTimeOffset value)
    {
        value = default;
        return text is not null && DateTimeOffset.TryParseExact(text.Trim(), s_formats, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out value);
    }
}
