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
        var response = new InProcessResponse(onLength: _ => heads++, onBody: bytes => body += bytes);
        using var file = TempFile(" world!!");

        response.Take("HTTP/1.1 200 OK\r\nContent-"u8);
        Assert.Null(response.Head);
        response.Take("Length: 11\r\n\r\nhel"u8);
        response.Take("lo"u8);
        response.TakeFromFile(file, 0, 6);

        Assert.Equal((1, 200, "11"), (heads, response.Head!.Status, response.Head.Headers["Content-Length"]));
        Assert.Equal((11L, 11L, 11L), (response.Length, response.BodyBytes, body));
        Assert.Null(response.Body);
        Assert.Null(response.ErrorLine);
    }

    [Fact]
    public void AKeptBody_IsWhatFollowsTheHead_FromMemoryAndFromTheFile()
    {
        var response = new InProcessResponse(keepBody: true);
        using var file = TempFile("..world");

        response.Take("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello"u8);
        response.TakeFromFile(file, 2, 5);

        Assert.Equal("helloworld"u8.ToArray(), response.Body);
    }

    private static Microsoft.Win32.SafeHandles.SafeFileHandle TempFile(string text)
    {
        var path = Path.GetTempFileName();
        File.WriteAllText(path, text);
        var handle = File.OpenHandle(path);
        File.Delete(path);
        return handle;
    }

    [Fact]
    public void AnErrorsFirstLine_IsItsReason()
    {
        var response = new InProcessResponse();

        response.Take("HTTP/1.1 502 Bad Gateway\r\nContent-Length: 40\r\n\r\nthe body does not match its index\nmore"u8);

        Assert.Equal("the body does not match its index", response.ErrorLine);
    }
}
