using System.Buffers;

namespace Replicator.Proxy;

/// <summary>
/// The latest bytes of a download's body, in memory (issue 13): the download's fiber appends each piece as it
/// arrives, its clients on the same loop send from here at once, and the file is written behind them off the loop
/// (see <see cref="Download"/>). Bounded: a piece may only overwrite bytes the file already holds, so a reader that
/// fell behind <see cref="Floor"/> reads the file instead.
///
/// One writer, on purpose: only the download's loop appends (and its clients send from it); the one write in flight
/// on another thread reads bytes up to <see cref="End"/> that the loop will not overwrite until they are written.
/// </summary>
internal sealed class DownloadRing
{
    /// <summary>The most memory one download keeps: a few times what the disk takes in one write.</summary>
    public const int MaxCapacity = 8 << 20;

    private const int MinCapacity = 64 << 10;

    private byte[]? _bytes;

    /// <param name="start">The body offset of the first byte to come (where a resumed download continues).</param>
    /// <param name="expected">The bytes still to come, when known: a small body takes a small ring.</param>
    public DownloadRing(long start, long? expected)
    {
        var capacity = expected is { } bytes ? (int)Math.Clamp(bytes, MinCapacity, MaxCapacity) : MaxCapacity;
        _bytes = ArrayPool<byte>.Shared.Rent(capacity);
        Start = start;
        _end = start;
    }

    /// <summary>The body offset of the first byte the ring was given.</summary>
    public long Start { get; }

    private long _end;

    /// <summary>The body offset after the last byte appended; published after the bytes, so another thread may read up to it.</summary>
    public long End => Volatile.Read(ref _end);

    public int Capacity => Bytes.Length;

    /// <summary>The first body offset the ring still holds (older bytes were overwritten; the file has them).</summary>
    public long Floor => Math.Max(Start, End - Capacity);

    private byte[] Bytes => _bytes ?? throw new ObjectDisposedException(nameof(DownloadRing));

    /// <summary>Appends the body's next bytes; the caller has made sure they overwrite only bytes already written.</summary>
    public void Append(ReadOnlySpan<byte> piece)
    {
        var bytes = Bytes;
        var end = _end;
        while (!piece.IsEmpty)
        {
            var at = (int)(end % bytes.Length);
            var count = Math.Min(piece.Length, bytes.Length - at);
            piece[..count].CopyTo(bytes.AsSpan(at));
            piece = piece[count..];
            end += count;
        }

        Volatile.Write(ref _end, end);
    }

    /// <summary>The longest contiguous run of body bytes from <paramref name="offset"/> (at or after <see cref="Floor"/>), at most <paramref name="count"/>.</summary>
    public ReadOnlyMemory<byte> Read(long offset, long count)
    {
        if (offset < Floor || offset > End)
        {
            throw new ArgumentOutOfRangeException(nameof(offset), offset, $"the ring holds {Floor} to {End}");
        }

        var bytes = Bytes;
        var at = (int)(offset % bytes.Length);
        var length = (int)Math.Min(Math.Min(count, End - offset), bytes.Length - at);
        return bytes.AsMemory(at, length);
    }

    /// <summary>Gives the memory back; only once nothing reads it any more (no write in flight).</summary>
    public void GiveBack()
    {
        if (_bytes is { } bytes)
        {
            _bytes = null;
            ArrayPool<byte>.Shared.Return(bytes);
        }
    }
}
