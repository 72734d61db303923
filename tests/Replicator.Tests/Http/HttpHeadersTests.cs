using Replicator.Http;

namespace Replicator.Tests.Http;

/// <summary>The header table's list-valued fields, as keep-alive, framing and Pragma read them on every request.</summary>
public sealed class HttpHeadersTests
{
    [Theory]
    [InlineData("close", true)]
    [InlineData("Close", true)]
    [InlineData("keep-alive, close", true)]
    [InlineData(" keep-alive ,  CLOSE  ", true)]
    [InlineData("keep-alive", false)]
    [InlineData("closed", false)]
    [InlineData("x-close, ,", false)]
    [InlineData("", false)]
    public void HasToken_FindsAMemberOfTheList_NotAPartOfOne(string value, bool expected)
    {
        var headers = new HttpHeaders();
        headers.Add("Host", "close");
        headers.Add("connection", value);

        Assert.Equal(expected, headers.HasToken("Connection", "close"));
    }

    [Fact]
    public void HasToken_LooksAtEveryFieldOfTheName()
    {
        var headers = new HttpHeaders();
        headers.Add("Connection", "keep-alive");
        headers.Add("Connection", "Upgrade, close");

        Assert.True(headers.HasToken("Connection", "close"));
        Assert.False(headers.HasToken("Proxy-Connection", "close"));
    }

    [Fact]
    public void Remove_TakesEveryFieldOfTheName_AndKeepsTheOthersInOrder()
    {
        var headers = new HttpHeaders();
        headers.Add("A", "1");
        headers.Add("Via", "x");
        headers.Add("B", "2");
        headers.Add("via", "y");

        Assert.True(headers.Remove("VIA"));
        Assert.False(headers.Remove("Via"));
        Assert.Equal(["A", "B"], headers.Fields.Select(field => field.Key));
    }

    [Theory]
    [InlineData(null, null, "None")]
    [InlineData("5", null, "Length")]
    [InlineData(null, "chunked", "Chunked")]
    public void RequestFraming_WithAndWithoutABody(string? contentLength, string? transferEncoding, string expected)
    {
        var headers = new HttpHeaders();
        headers.Add("Host", "h");
        if (contentLength is not null)
        {
            headers.Add("Content-Length", contentLength);
        }

        if (transferEncoding is not null)
        {
            headers.Add("Transfer-Encoding", transferEncoding);
        }

        var request = new RequestHead { Method = "POST", Target = "/", Version = new Version(1, 1), Headers = headers };
        Assert.Equal(expected, request.BodyFraming().Kind.ToString());
    }
}
