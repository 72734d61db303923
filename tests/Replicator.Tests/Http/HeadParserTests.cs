using System.Text;
using Replicator.Http;
using Replicator.Proxy;

namespace Replicator.Tests.Http;

public class HeadParserTests
{
    private const string Valid = "GET http://example.org:8080/pool/a.deb?x=1 HTTP/1.1\r\nHost: example.org:8080\r\nAccept: */*\r\nX-Empty:\r\nX-Spaced:   padded value  \r\n\r\n";

    public static TheoryData<int> Prefixes() => [.. Enumerable.Range(0, Valid.Length)];

    [Theory]
    [MemberData(nameof(Prefixes))]
    public void TryParseRequest_AnyProperPrefix_NeedsMoreAndConsumesNothing(int length)
    {
        var ok = HeadParser.TryParseRequest(Encoding.ASCII.GetBytes(Valid[..length]), out var head, out var consumed);

        Assert.False(ok);
        Assert.Null(head);
        Assert.Equal(0, consumed);
    }

    [Fact]
    public void TryParseRequest_CompleteHead_YieldsEveryPartAndItsLength()
    {
        var bytes = Encoding.ASCII.GetBytes(Valid + "GET http://next/ HTTP/1.1\r\n");

        Assert.True(HeadParser.TryParseRequest(bytes, out var head, out var consumed));

        Assert.Equal(Valid.Length, consumed);
        Assert.Equal("GET", head.Method);
        Assert.Equal("http://example.org:8080/pool/a.deb?x=1", head.Target);
        Assert.True(head.IsHttp11);
        Assert.Equal("example.org:8080", head.Headers["host"]);
        Assert.Equal(string.Empty, head.Headers["X-Empty"]);
        Assert.Equal("padded value", head.Headers["X-Spaced"]);
    }

    [Fact]
    public void TryParseRequest_BytesArrivingOneAtATime_CompletesExactlyAtTheEnd()
    {
        var bytes = Encoding.ASCII.GetBytes(Valid);
        for (var length = 0; length <= bytes.Length; length++)
        {
            var ok = HeadParser.TryParseRequest(bytes.AsSpan(0, length), out _, out _);
            Assert.Equal(length == bytes.Length, ok);
        }
    }

    [Fact]
    public void TryParseRequest_BareLineFeeds_AreAccepted()
    {
        var text = "GET http://h/ HTTP/1.0\nHost: h\n\n"u8;
        Assert.True(HeadParser.TryParseRequest(text, out var head, out var consumed));
        Assert.Equal(text.Length, consumed);
        Assert.False(head.IsHttp11);
    }

    [Theory]
    [InlineData("GET  http://h/ HTTP/1.1\r\n", 400)]
    [InlineData("GET http://h/\r\n", 400)]
    [InlineData("G(T http://h/ HTTP/1.1\r\n", 400)]
    [InlineData("GET http://h/ HTTP/1.x\r\n", 400)]
    [InlineData("GET http://h/ HTTP/3.0\r\n", 505)]
    [InlineData("GET http://h/\x01 HTTP/1.1\r\n", 400)]
    [InlineData("GET http://h/ HTTP/1.1\r\nNo-Colon\r\n\r\n", 400)]
    [InlineData("GET http://h/ HTTP/1.1\r\nBad Name: v\r\n\r\n", 400)]
    [InlineData("GET http://h/ HTTP/1.1\r\n Folded: v\r\n\r\n", 400)]
    [InlineData("GET http://h/ HTTP/1.1\r\nX: a\u007Fb\r\n\r\n", 400)]
    public void TryParseRequest_Malformed_IsRefusedWithAFaultAProxyAnswersWithItsStatus(string text, int status)
    {
        var error = Assert.Throws<HttpParseException>(() => HeadParser.TryParseRequest(Encoding.Latin1.GetBytes(text), out _, out _));
        Assert.Equal(status, Blame.Of(FailedStep.ClientHead, error.Fault).Status);
    }

    [Fact]
    public void TryParseRequest_MalformedRequestLine_IsRefusedBeforeTheHeadIsComplete()
    {
        var error = Assert.Throws<HttpParseException>(() => HeadParser.TryParseRequest("BROKEN\r\nHost: still coming"u8, out _, out _));
        Assert.Equal(HttpFault.MalformedStartLine, error.Fault);
    }

    [Fact]
    public void TryParseRequest_RequestLineOverTheLimit_Is414EvenUnfinished()
    {
        var line = Encoding.ASCII.GetBytes("GET http://h/" + new string('a', HeadParser.MaxRequestLine));
        Assert.Equal(HttpFault.RequestLineTooLong, Assert.Throws<HttpParseException>(() => HeadParser.TryParseRequest(line, out _, out _)).Fault);
    }

    [Fact]
    public void TryParseRequest_HeadOverTheLimit_Is431EvenUnfinished()
    {
        var head = Encoding.ASCII.GetBytes("GET http://h/ HTTP/1.1\r\n" + string.Concat(Enumerable.Repeat("X-A: " + new string('b', 1000) + "\r\n", 70)));
        Assert.Equal(HttpFault.HeadTooLarge, Assert.Throws<HttpParseException>(() => HeadParser.TryParseRequest(head, out _, out _)).Fault);
    }

    [Theory]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", 200, "OK")]
    [InlineData("HTTP/1.0 404 Not Found\r\n\r\n", 404, "Not Found")]
    [InlineData("HTTP/1.1 204\r\n\r\n", 204, "")]
    public void TryParseResponse_StatusLine_IsRead(string text, int status, string reason)
    {
        Assert.True(HeadParser.TryParseResponse(Encoding.ASCII.GetBytes(text), out var head, out var consumed));
        Assert.Equal(text.Length, consumed);
        Assert.Equal(status, head.Status);
        Assert.Equal(reason, head.Reason);
    }

    [Theory]
    [InlineData("HTTP/1.1 20 OK\r\n\r\n")]
    [InlineData("ICY 200 OK\r\n\r\n")]
    [InlineData("HTTP/1.1 200OK\r\n\r\n")]
    public void TryParseResponse_MalformedStatusLine_IsRefused(string text)
    {
        Assert.Equal(HttpFault.MalformedStartLine, Assert.Throws<HttpParseException>(() => HeadParser.TryParseResponse(Encoding.ASCII.GetBytes(text), out _, out _)).Fault);
    }

    [Theory]
    [InlineData("Content-Length: 10\r\nContent-Length: 10", nameof(BodyKind.Length), 10)]
    [InlineData("Transfer-Encoding: gzip, chunked", nameof(BodyKind.Chunked), 0)]
    [InlineData("", nameof(BodyKind.None), 0)]
    public void RequestFraming_ValidFields_GiveTheFraming(string fields, string kind, long length)
    {
        var head = Parse($"POST http://h/ HTTP/1.1\r\n{fields}{(fields.Length > 0 ? "\r\n" : string.Empty)}\r\n");
        Assert.Equal(new Framing(Enum.Parse<BodyKind>(kind), length), head.BodyFraming());
    }

    [Theory]
    [InlineData("Content-Length: 10\r\nContent-Length: 11")]
    [InlineData("Content-Length: -1")]
    [InlineData("Content-Length: 1\r\nTransfer-Encoding: chunked")]
    [InlineData("Transfer-Encoding: chunked, gzip")]
    public void RequestFraming_AmbiguousFields_AreRefused(string fields)
    {
        var head = Parse($"POST http://h/ HTTP/1.1\r\n{fields}\r\n\r\n");
        Assert.Throws<HttpParseException>(() => head.BodyFraming());
    }

    private static RequestHead Parse(string text)
    {
        Assert.True(HeadParser.TryParseRequest(Encoding.ASCII.GetBytes(text), out var head, out _));
        return head;
    }
}
