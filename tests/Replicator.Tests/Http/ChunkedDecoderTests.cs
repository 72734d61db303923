using System.Text;
using Replicator.Http;

namespace Replicator.Tests.Http;

public class ChunkedDecoderTests
{
    private const string Body = "5;ext=1\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nTrailer: x\r\n\r\n";

    [Fact]
    public void Decode_WholeBody_YieldsTheDataAndEnds()
    {
        Assert.Equal("helloabcdefghijklmnopqrstuvwxyz", DecodeInPieces(Body, Body.Length));
    }

    [Fact]
    public void Decode_OneByteAtATime_YieldsTheSameData()
    {
        Assert.Equal("helloabcdefghijklmnopqrstuvwxyz", DecodeInPieces(Body, 1));
    }

    [Fact]
    public void Decode_BytesAfterTheEnd_AreLeftAlone()
    {
        var decoder = new ChunkedDecoder();
        var input = Encoding.ASCII.GetBytes("0\r\n\r\nNEXT");

        var consumed = decoder.Decode(input, out _);

        Assert.True(decoder.IsDone);
        Assert.Equal(5, consumed);
    }

    [Fact]
    public void Encoding_FramedPiecesAndTheEnd_DecodeToTheSameData()
    {
        var body = new StringBuilder();
        foreach (var piece in new[] { "first", new string('x', 300), "z" })
        {
            var (buffer, length) = ChunkedEncoding.Frame(Encoding.ASCII.GetBytes(piece));
            body.Append(Encoding.ASCII.GetString(buffer, 0, length));
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }

        body.Append(Encoding.ASCII.GetString(ChunkedEncoding.End.Span));

        Assert.Equal("first" + new string('x', 300) + "z", DecodeInPieces(body.ToString(), 7));
    }

    [Theory]
    [InlineData("x\r\n")]
    [InlineData(";\r\n")]
    [InlineData("3\r\nabcX")]
    [InlineData("FFFFFFFFFFFFFFFFFF\r\n")]
    public void Decode_Malformed_IsRefused(string text)
    {
        var decoder = new ChunkedDecoder();
        Assert.Equal(HttpFault.MalformedChunk, Assert.Throws<HttpParseException>(() => DecodeAll(decoder, Encoding.ASCII.GetBytes(text))).Fault);
    }

    private static string DecodeInPieces(string text, int pieceSize)
    {
        var decoder = new ChunkedDecoder();
        var output = new StringBuilder();
        var bytes = Encoding.ASCII.GetBytes(text);
        for (var start = 0; start < bytes.Length; start += pieceSize)
        {
            var piece = bytes.AsSpan(start, Math.Min(pieceSize, bytes.Length - start));
            while (!piece.IsEmpty)
            {
                var consumed = decoder.Decode(piece, out var data);
                output.Append(Encoding.ASCII.GetString(piece[data]));
                piece = piece[consumed..];
                if (consumed == 0)
                {
                    break;
                }
            }
        }

        Assert.True(decoder.IsDone);
        return output.ToString();
    }

    private static void DecodeAll(ChunkedDecoder decoder, byte[] bytes)
    {
        var offset = 0;
        while (offset < bytes.Length)
        {
            offset += decoder.Decode(bytes.AsSpan(offset), out _);
        }
    }
}
