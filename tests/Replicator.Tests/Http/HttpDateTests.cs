using Replicator.Http;

namespace Replicator.Tests.Http;

/// <summary>Issue 11, point 7: the three HTTP-date forms, read as a cache must (RFC 9110 section 5.6.7).</summary>
public class HttpDateTests
{
    [Theory]
    [InlineData("Sun, 06 Nov 1994 08:49:37 GMT", "1994-11-06T08:49:37")]
    [InlineData("Sunday, 06-Nov-94 08:49:37 GMT", "1994-11-06T08:49:37")]
    [InlineData("Sun Nov  6 08:49:37 1994", "1994-11-06T08:49:37")]
    [InlineData("Sun Nov 16 08:49:37 1994", "1994-11-16T08:49:37")]
    [InlineData("Mon, 06 Nov 1994 08:49:37 GMT", "1994-11-06T08:49:37")] // a wrong weekday
    [InlineData("Sun, 06 nov 1994 08:49:37 gmt", "1994-11-06T08:49:37")] // lower case
    [InlineData("  Sun, 06 Nov 1994 08:49:37 GMT  ", "1994-11-06T08:49:37")]
    [InlineData("Sun, 06 Nov 1994 08:49:37", "1994-11-06T08:49:37")] // no zone: GMT is the only one
    [InlineData("Tuesday, 01-Jan-80 00:00:00 GMT", "1980-01-01T00:00:00")] // 2080 is over 50 years ahead of 2026
    [InlineData("Friday, 01-Jan-60 00:00:00 GMT", "2060-01-01T00:00:00")] // 2060 is not
    [InlineData("Wed, 31 Dec 2025 23:59:60 GMT", "2025-12-31T23:59:59")] // a leap second
    public void TryParse_ReadsEveryForm(string text, string expected)
    {
        Assert.True(HttpDate.TryParse(text, currentYear: 2026, out var value));
        Assert.Equal(DateTimeOffset.Parse(expected + "Z", System.Globalization.CultureInfo.InvariantCulture), value);
    }

    [Theory]
    [InlineData("")]
    [InlineData("0")]
    [InlineData("yesterday")]
    [InlineData("Sun, 32 Nov 1994 08:49:37 GMT")]
    [InlineData("Sun, 29 Feb 1995 08:49:37 GMT")]
    [InlineData("Sun, 06 Nov 1994 25:49:37 GMT")]
    [InlineData("Sun, 06 Xyz 1994 08:49:37 GMT")]
    [InlineData(null)]
    public void TryParse_RefusesWhatIsNoDate(string? text)
    {
        Assert.False(HttpDate.TryParse(text, currentYear: 2026, out _));
    }

    [Fact]
    public void Format_IsImfFixdate_AndReadsBack()
    {
        var time = new DateTimeOffset(2024, 2, 29, 13, 5, 9, TimeSpan.Zero);

        Assert.Equal("Thu, 29 Feb 2024 13:05:09 GMT", HttpDate.Format(time));
        Assert.True(HttpDate.TryParse(HttpDate.Format(time), out var back));
        Assert.Equal(time, back);
    }
}
