using Replicator.Proxy;

namespace Replicator.Tests.Proxy;

/// <summary>The answer to an in-process request is read as a client reads one: the head however it is cut, then the body.</summary>
public sealed class InProcessResponseTests
{
    [Fact]
    public void AHeadInPieces_IsReadOnce_AndOnlyWhatFollowsItIsBody()
    {
        var heads = 0;
        long body = 0;
        var response = new InProcessResponse(_ => heads++, bytes => body += bytes);

        response.Take("HTTP/1.1 200 OK\r\nContent-"u8);
        Assert.Null(response.Head);
        response.Take("Length: 9\r\n\r\nhel"u8);
        response.Take("lo"u8);
        response.TakeFromFile(4);

        Assert.Equal((1, 200, "9"), (heads, response.Head!.Status, response.Head.Headers["Content-Length"]));
        Assert.Equal((9L, 9L), (response.BodyBytes, body));
        Assert.Null(response.ErrorLine);
    }

    [Fact]
    public void AnErrorsFirstLine_IsItsReason()
    {
        var response = new InProcessResponse();

        response.Take("HTTP/1.1 502 Bad Gateway\r\nContent-Length: 40\r\n\r\nthe body does not match its index\nmore"u8);

        Assert.Equal("the body does not match its index", response.ErrorLine);
    }
}
