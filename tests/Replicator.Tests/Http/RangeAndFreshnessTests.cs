using System.Text;
using Replicator.Cache;
using Replicator.Http;

namespace Replicator.Tests.Http;

public class RangeAndFreshnessTests
{
    private static readonly DateTimeOffset s_now = new(2026, 11, 25, 12, 0, 0, TimeSpan.Zero);

    [Theory]
    [InlineData(null, nameof(RangeKind.Whole), 0, 0)]
    [InlineData("bytes=0-9", nameof(RangeKind.Single), 0, 9)]
    [InlineData("bytes=5-", nameof(RangeKind.Single), 5, 99)]
    [InlineData("bytes=-10", nameof(RangeKind.Single), 90, 99)]
    [InlineData("bytes=-1000", nameof(RangeKind.Single), 0, 99)]
    [InlineData("bytes=50-1000", nameof(RangeKind.Single), 50, 99)]
    [InlineData("bytes=100-", nameof(RangeKind.Unsatisfiable), 0, 0)]
    [InlineData("bytes=-0", nameof(RangeKind.Unsatisfiable), 0, 0)]
    [InlineData("bytes=9-5", nameof(RangeKind.Whole), 0, 0)]
    [InlineData("bytes=1-2,4-5", nameof(RangeKind.Whole), 0, 0)]
    [InlineData("items=1-2", nameof(RangeKind.Whole), 0, 0)]
    [InlineData("bytes=a-b", nameof(RangeKind.Whole), 0, 0)]
    public void Parse_AgainstAHundredBytes(string? header, string kind, long start, long end)
    {
        Assert.Equal(new RangeRequest(Enum.Parse<RangeKind>(kind), start, end), RangeRequest.Parse(header, 100));
    }

    [Theory]
    [InlineData("Cache-Control: max-age=60", 30, true)]
    [InlineData("Cache-Control: max-age=60", 61, false)]
    [InlineData("Cache-Control: max-age=600, s-maxage=10", 30, false)]
    [InlineData("Cache-Control: max-age=60, no-cache", 1, false)]
    [InlineData("Expires: Wed, 25 Nov 2026 13:00:00 GMT", 600, true)]
    [InlineData("Expires: 0", 1, false)]
    [InlineData("Last-Modified: Wed, 25 Nov 2020 13:00:00 GMT", 1, false)]
    public void IsFresh_ByTheResponsesOwnLifetime(string field, int ageSeconds, bool fresh)
    {
        var stored = Stored(field);

        Assert.Equal(fresh, Freshness.IsFresh(stored, new HttpHeaders(), s_now.AddSeconds(ageSeconds)));
    }

    [Theory]
    [InlineData("Cache-Control: no-cache")]
    [InlineData("Cache-Control: max-age=0")]
    [InlineData("Pragma: no-cache")]
    public void IsFresh_ClientAskingToRevalidate_IsNotFresh(string field)
    {
        var request = new HttpHeaders();
        var colon = field.IndexOf(':', StringComparison.Ordinal);
        request.Add(field[..colon], field[(colon + 2)..]);

        Assert.False(Freshness.IsFresh(Stored("Cache-Control: max-age=3600"), request, s_now.AddSeconds(5)));
    }

    [Theory]
    // request directive, response Cache-Control, age in seconds -> fresh (RFC 9111 sections 5.2.1.2, 5.2.1.3, 4.2.4)
    [InlineData("max-stale", "max-age=60", 100, true)]
    [InlineData("max-stale=50", "max-age=60", 100, true)]
    [InlineData("max-stale=30", "max-age=60", 100, false)]
    [InlineData("max-stale", "max-age=60, must-revalidate", 100, false)]
    [InlineData("max-stale", "s-maxage=60", 100, false)]
    [InlineData("min-fresh=30", "max-age=60", 20, true)]
    [InlineData("min-fresh=30", "max-age=60", 40, false)]
    [InlineData("max-age=10", "max-age=60", 20, false)]
    public void IsFresh_ClientDirectives_MoveTheLine(string directive, string responseControl, int ageSeconds, bool fresh)
    {
        var request = new HttpHeaders();
        request.Add("Cache-Control", directive);

        Assert.Equal(fresh, Freshness.IsFresh(Stored("Cache-Control: " + responseControl), request, s_now.AddSeconds(ageSeconds)));
    }

    [Theory]
    [InlineData("", "Cache-Control: max-age=60", 200, true)]
    [InlineData("", "Cache-Control: max-age=60", 206, false)]
    [InlineData("", "Cache-Control: no-store", 200, false)]
    [InlineData("", "Cache-Control: private", 200, false)]
    [InlineData("Cache-Control: no-store\r\n", "Cache-Control: max-age=60", 200, false)]
    [InlineData("Authorization: Basic eA==\r\n", "Cache-Control: max-age=60", 200, false)]
    [InlineData("Authorization: Basic eA==\r\n", "Cache-Control: public, max-age=60", 200, true)]
    [InlineData("", "Vary: *", 200, false)]
    [InlineData("", "Cache-Control: max-age=60\r\nSet-Cookie: a=b", 200, false)]
    [InlineData("", "Cache-Control: public, max-age=60\r\nSet-Cookie: a=b", 200, true)]
    [InlineData("", "Cache-Control: s-maxage=60\r\nSet-Cookie: a=b", 200, true)]
    public void IsStorable_FollowsRfc9111(string requestFields, string responseField, int status, bool storable)
    {
        Assert.True(HeadParser.TryParseRequest(Encoding.ASCII.GetBytes($"GET http://h/ HTTP/1.1\r\n{requestFields}\r\n"), out var request, out _));
        Assert.True(HeadParser.TryParseResponse(Encoding.ASCII.GetBytes($"HTTP/1.1 {status} X\r\n{responseField}\r\n\r\n"), out var response, out _));

        Assert.Equal(storable, Freshness.IsStorable(request, response));
    }

    /// <summary>Issue 11, point 6: RFC 9111 section 4.2.2, 10% of the time since Last-Modified, at most a day.</summary>
    [Theory]
    [InlineData("Last-Modified: Wed, 25 Nov 2026 02:00:00 GMT", 200, 0.1, 3600.0)] // modified 10 h before: 1 h
    [InlineData("Last-Modified: Wed, 25 Nov 2026 11:00:00 GMT", 200, 0.5, 1800.0)] // 1 h before, 50%: 30 min
    [InlineData("Last-Modified: Sun, 01 Jan 2023 00:00:00 GMT", 200, 0.1, 86400.0)] // years before: the day's cap
    [InlineData("Last-Modified: Wed, 25 Nov 2026 02:00:00 GMT", 404, 0.1, 3600.0)] // a heuristically cacheable status
    [InlineData("Last-Modified: Wed, 25 Nov 2026 02:00:00 GMT", 302, 0.1, null)] // not one
    [InlineData("Last-Modified: Wed, 25 Nov 2026 02:00:00 GMT", 200, 0.0, null)] // --heuristic 0
    [InlineData("Last-Modified: Wed, 25 Nov 2026 13:00:00 GMT", 200, 0.1, null)] // modified after its Date
    [InlineData("Cache-Control: max-age=5\r\nLast-Modified: Wed, 25 Nov 2026 02:00:00 GMT", 200, 0.1, null)] // explicit lifetime
    [InlineData("Content-Type: text/plain", 200, 0.1, null)] // no Last-Modified
    public void HeuristicLifetime_IsAFractionOfTheTimeSinceLastModified(string fields, int status, double fraction, double? seconds)
    {
        var stored = Stored(fields.Replace("\\r\\n", "\r\n", StringComparison.Ordinal)) with { Status = status };

        Assert.Equal(seconds is { } s ? TimeSpan.FromSeconds(s) : null, Freshness.HeuristicLifetime(stored, fraction));
    }

    [Fact]
    public void IsFresh_ByHeuristic_UntilTheFractionHasPassed()
    {
        var stored = Stored("Last-Modified: Wed, 25 Nov 2026 02:00:00 GMT");

        Assert.True(Freshness.IsFresh(stored, new HttpHeaders(), s_now.AddMinutes(59), heuristic: 0.1));
        Assert.False(Freshness.IsFresh(stored, new HttpHeaders(), s_now.AddMinutes(61), heuristic: 0.1));
        Assert.False(Freshness.IsFresh(stored, new HttpHeaders(), s_now.AddMinutes(1), heuristic: 0));
    }

    [Fact]
    public void StoredResponse_SurvivesItsOwnFormat()
    {
        var stored = Stored("Content-Type: text/plain");
        var copy = StoredResponse.TryParse(stored.Serialize())!;

        Assert.Equal(stored.Headers.Fields, copy.Headers.Fields);
        Assert.Equal(stored.Length, copy.Length);
        Assert.Equal(stored.ResponseTime, copy.ResponseTime);
        Assert.Equal(stored.VaryKey, copy.VaryKey);
        Assert.Equal(s_now, copy.Date);
        Assert.Null(StoredResponse.TryParse("HTTP/1.1 200 OK\r\nX: y\r\n\r\n"u8));
    }

    private static StoredResponse Stored(string field)
    {
        var headers = new HttpHeaders();
        foreach (var line in field.Split("\r\n"))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            headers.Add(line[..colon], line[(colon + 2)..]);
        }

        headers.Add("Date", HttpDate.Format(s_now));
        return new StoredResponse
        {
            Headers = headers,
            RequestTime = s_now,
            ResponseTime = s_now,
            Length = 10,
            BodyStamp = s_now,
            VaryKey = [new("accept-encoding", "gzip"), new("x-absent", null)],
        };
    }
}
