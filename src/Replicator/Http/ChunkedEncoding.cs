using System.Buffers;
using System.Globalization;
using System.Text;

namespace Replicator.Http;

/// <summary>Writing chunked bodies (RFC 9112 section 7.1): the counterpart of <see cref="ChunkedDecoder"/>.</summary>
internal static class ChunkedEncoding
{
    /// <summary>The last chunk and the empty trailer that end a chunked body.</summary>
    public static ReadOnlyMemory<byte> End { get; } = "0\r\n\r\n"u8.ToArray();

    /// <summary>What ends a chunk's data.</summary>
    public static ReadOnlyMemory<byte> DataEnd { get; } = "\r\n"u8.ToArray();

    /// <summary>The line that announces a chunk of <paramref name="size"/> bytes.</summary>
    public static byte[] SizeLine(long size) => Encoding.ASCII.GetBytes(size.ToString("x", CultureInfo.InvariantCulture) + "\r\n");

    /// <summary>
    /// <paramref name="piece"/> framed as one chunk, in a buffer rented from the shared pool: send the first
    /// <c>Length</c> bytes, then return the buffer.
    /// </summary>
    public static (byte[] Buffer, int Length) Frame(ReadOnlySpan<byte> piece)
    {
        var size = SizeLine(piece.Length);
        var length = size.Length + piece.Length + 2;
        var buffer = ArrayPool<byte>.Shared.Rent(length);
        size.CopyTo(buffer, 0);
        piece.CopyTo(buffer.AsSpan(size.Length));
        "\r\n"u8.CopyTo(buffer.AsSpan(size.Length + piece.Length));
        return (buffer, length);
    }
}
