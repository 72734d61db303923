using System.Text;
using Replicator.Cache;
using Replicator.Http;
using Replicator.Proxy;

namespace Replicator.Tests.Proxy;

/// <summary>How a stored response is answered (200, 206, 304, 416; HEAD; framing; keep-alive), as a table.</summary>
public class ResponsePlanTests
{
    private static readonly DateTimeOffset s_modified = new(2024, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset s_now = s_modified.AddHours(1);

    [Theory]
    // method, version, request fields ("Name: value" separated by '|'), length (-1: still unknown), keep-alive in
    // -> status, offset, count, chunked, keep-alive out, a field the head must hold
    [InlineData("GET", "1.1", "", 100, true, 200, 0, 100, false, true, "Content-Length: 100")]
    [InlineData("HEAD", "1.1", "", 100, true, 200, 0, 0, false, true, "Content-Length: 100")]
    [InlineData("GET", "1.1", "", 100, false, 200, 0, 100, false, false, "Connection: close")]
    [InlineData("GET", "1.1", "If-None-Match: \"v1\"", 100, true, 304, 0, 0, false, true, "ETag: \"v1\"")]
    [InlineData("GET", "1.1", "If-None-Match: W/\"v1\"", 100, true, 304, 0, 0, false, true, "ETag: \"v1\"")]
    [InlineData("GET", "1.1", "If-None-Match: \"v2\"", 100, true, 200, 0, 100, false, true, "Content-Length: 100")]
    [InlineData("GET", "1.1", "If-Modified-Since: Mon, 01 Jan 2024 00:00:00 GMT", 100, true, 304, 0, 0, false, true, "Age: ")]
    [InlineData("GET", "1.1", "If-Modified-Since: Sun, 31 Dec 2023 00:00:00 GMT", 100, true, 200, 0, 100, false, true, "Last-Modified: ")]
    [InlineData("GET", "1.1", "Range: bytes=10-19", 100, true, 206, 10, 10, false, true, "Content-Range: bytes 10-19/100")]
    [InlineData("GET", "1.1", "Range: bytes=-5", 100, true, 206, 95, 5, false, true, "Content-Range: bytes 95-99/100")]
    [InlineData("GET", "1.1", "Range: bytes=200-", 100, true, 416, 0, 0, false, true, "Content-Range: bytes */100")]
    [InlineData("GET", "1.1", "Range: bytes=0-1,5-6", 100, true, 200, 0, 100, false, true, "Accept-Ranges: bytes")]
    [InlineData("GET", "1.1", "Range: bytes=10-19|If-Range: \"v1\"", 100, true, 206, 10, 10, false, true, "Content-Range: bytes 10-19/100")]
    [InlineData("GET", "1.1", "Range: bytes=10-19|If-Range: \"v2\"", 100, true, 200, 0, 100, false, true, "Content-Length: 100")]
    [InlineData("HEAD", "1.1", "Range: bytes=10-19", 100, true, 200, 0, 0, false, true, "Content-Length: 100")]
    [InlineData("GET", "1.1", "", -1, true, 200, 0, -1, true, true, "Transfer-Encoding: chunked")]
    [InlineData("GET", "1.0", "", -1, true, 200, 0, -1, false, false, "Connection: close")]
    public void Plan_FollowsRfc9110(string method, string version, string fields, long length, bool keepAlive, int status, long offset, long count, bool chunked, bool keepsAlive, string field)
    {
        var request = Request(method, version, fields);

        var plan = ResponsePlan.For(request, Stored(), length < 0 ? null : length, s_now, keepAlive);

        Assert.Equal(status, plan.Status);
        Assert.Equal(offset, plan.Offset);
        Assert.Equal(count, plan.Count);
        Assert.Equal(chunked, plan.Chunked);
        Assert.Equal(keepsAlive, plan.KeepAlive);
        var head = Encoding.Latin1.GetString(plan.Head);
        Assert.StartsWith($"HTTP/1.1 {status} ", head, StringComparison.Ordinal);
        Assert.EndsWith("\r\n\r\n", head, StringComparison.Ordinal);
        Assert.Contains("\r\n" + field, head, StringComparison.Ordinal);
        if (status != 416)
        {
            // What the origin sent, passed on, names the hop; a 416 is the proxy's own answer.
            Assert.Contains("\r\nVia: ", head, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void PlainHit_IsByteForByteWhatTheGeneralPathWrites()
    {
        // The plain path skips the field table; with an If-Modified-Since older than the body, the general path
        // answers the same 200 (fields may come in another order: compare them as sets).
        var plain = ResponsePlan.For(Request("GET", "1.1", ""), Stored(), 100, s_now, keepAlive: true);
        var general = ResponsePlan.For(Request("GET", "1.1", "If-Modified-Since: Sun, 31 Dec 2023 00:00:00 GMT"), Stored(), 100, s_now, keepAlive: true);

        Assert.Equal(Lines(general.Head), Lines(plain.Head));
    }

    [Theory]
    [InlineData("GET", "1.1", true)]
    [InlineData("GET", "1.0", false)]
    [InlineData("HEAD", "1.1", true)]
    public void PlainHeadWrittenInPlace_IsThePlansHead(string method, string version, bool keepAlive)
    {
        // A small hit writes its head straight into the buffer it sends; the bytes must be the plan's, to the byte.
        var request = Request(method, version, "");
        var stored = Stored();
        var buffer = new byte[ResponsePlan.PlainHeadCapacity(stored)];

        var written = ResponsePlan.WritePlainHead(request, stored, 100, s_now, keepAlive, buffer);

        Assert.True(ResponsePlan.IsPlain(request));
        Assert.Equal(ResponsePlan.For(request, stored, 100, s_now, keepAlive).Head, buffer[..written]);
    }

    [Fact]
    public void AStoredAge_IsReplacedByTheAgeOfTheAnswer_NeverSentTwice()
    {
        var stored = Stored();
        stored.Headers.Add("Age", "30");
        stored = stored with { Headers = stored.Headers };

        foreach (var fields in (string[])["", "Range: bytes=0-9"])
        {
            var head = Encoding.Latin1.GetString(ResponsePlan.For(Request("GET", "1.1", fields), stored, 100, s_now, keepAlive: true).Head);
            var ages = head.Split("\r\n").Where(line => line.StartsWith("Age:", StringComparison.Ordinal)).ToList();
            Assert.Equal(["Age: 3630"], ages); // 30 s old on arrival, an hour since
        }
    }

    private static string[] Lines(byte[] head) => [.. Encoding.Latin1.GetString(head).Split("\r\n").Order(StringComparer.Ordinal)];

    private static RequestHead Request(string method, string version, string fields)
    {
        var headers = new HttpHeaders();
        foreach (var field in fields.Split('|', StringSplitOptions.RemoveEmptyEntries))
        {
            var colon = field.IndexOf(':', StringComparison.Ordinal);
            headers.Add(field[..colon], field[(colon + 1)..].Trim());
        }

        return new RequestHead { Method = method, Target = "http://h/x", Version = Version.Parse(version), Headers = headers };
    }

    private static StoredResponse Stored()
    {
        var headers = new HttpHeaders();
        headers.Add("Content-Type", "text/plain");
        headers.Add("ETag", "\"v1\"");
        headers.Add("Last-Modified", HttpDate.Format(s_modified));
        headers.Add("Cache-Control", "max-age=3600");
        return new StoredResponse { Headers = headers, RequestTime = s_modified, ResponseTime = s_modified, Length = 100, BodyStamp = s_modified };
    }
}
