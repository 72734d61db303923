using System.Globalization;
using System.Text.RegularExpressions;

namespace Replicator.Http;

/// <summary>
/// HTTP dates (RFC 9110 section 5.6.7): IMF-fixdate out; IMF-fixdate, the obsolete RFC 850 form and asctime in, as a
/// recipient must accept them. Read leniently, as the RFC asks of caches: the weekday is not checked (a wrong one
/// is common), month names and "GMT" in any case, and a two-digit year that would be more than 50 years in the future
/// is the most recent past year with those digits.
/// </summary>
internal static partial class HttpDate
{
    public static string Format(DateTimeOffset value) => value.ToUniversalTime().ToString("r", CultureInfo.InvariantCulture);

    public static bool TryParse(string? text, out DateTimeOffset value) => TryParse(text, DateTimeOffset.UtcNow.Year, out value);

    /// <param name="currentYear">The year two-digit years are read against (a parameter, for tests).</param>
    public static bool TryParse(string? text, int currentYear, out DateTimeOffset value)
    {
        value = default;
        if (text is null)
        {
            return false;
        }

        int day, month, year;
        string time;
        if (ImfOrRfc850().Match(text) is { Success: true } dated)
        {
            day = int.Parse(dated.Groups["day"].Value, CultureInfo.InvariantCulture);
            month = Month(dated.Groups["month"].Value);
            year = Year(dated.Groups["year"].Value, currentYear);
            time = dated.Groups["time"].Value;
        }
        else if (Asctime().Match(text) is { Success: true } asctime)
        {
            day = int.Parse(asctime.Groups["day"].Value, CultureInfo.InvariantCulture);
            month = Month(asctime.Groups["month"].Value);
            year = int.Parse(asctime.Groups["year"].Value, CultureInfo.InvariantCulture);
            time = asctime.Groups["time"].Value;
        }
        else
        {
            return false;
        }

        var clock = time.Split(':');
        var (hour, minute, second) = (int.Parse(clock[0], CultureInfo.InvariantCulture), int.Parse(clock[1], CultureInfo.InvariantCulture), int.Parse(clock[2], CultureInfo.InvariantCulture));
        if (month == 0 || year is < 1 or > 9999 || hour > 23 || minute > 59 || second > 60 || day < 1 || day > DateTime.DaysInMonth(year, month))
        {
            return false;
        }

        // A leap second is read as the last second of its minute.
        value = new DateTimeOffset(year, month, day, hour, minute, Math.Min(second, 59), TimeSpan.Zero);
        return true;
    }

    private static int Month(string name) => Array.FindIndex(s_months, month => month.Equals(name, StringComparison.OrdinalIgnoreCase)) + 1;

    private static int Year(string digits, int currentYear)
    {
        var year = int.Parse(digits, CultureInfo.InvariantCulture);
        if (digits.Length > 2)
        {
            return year;
        }

        // RFC 9110 section 5.6.7: a two-digit year more than 50 years in the future is the most recent past year
        // with the same last two digits.
        var candidate = (currentYear / 100 * 100) + year;
        return candidate > currentYear + 50 ? candidate - 100 : candidate;
    }

    private static readonly string[] s_months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

    /// <summary>"Sun, 06 Nov 1994 08:49:37 GMT" and "Sunday, 06-Nov-94 08:49:37 GMT" (weekday not checked).</summary>
    [GeneratedRegex(@"^\s*[A-Za-z]+,\s*(?<day>\d{1,2})[ -](?<month>[A-Za-z]{3})[ -](?<year>\d{4}|\d{2})\s+(?<time>\d{1,2}:\d{2}:\d{2})\s*(?:GMT|UTC|\+0000)?(?:\s+GMT)?\s*$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex ImfOrRfc850();

    /// <summary>"Sun Nov  6 08:49:37 1994".</summary>
    [GeneratedRegex(@"^\s*[A-Za-z]+\s+(?<month>[A-Za-z]{3})\s+(?<day>\d{1,2})\s+(?<time>\d{1,2}:\d{2}:\d{2})\s+(?<year>\d{4})\s*$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex Asctime();
}
