namespace Replicator.Proxy;

/// <summary>
/// The rest of a body the disk refused, kept in memory for the clients following its download (see
/// <see cref="Download"/>): appended by the download's fiber, read by clients on any loop. Bounded: past
/// <see cref="MaxBytes"/> the download fails rather than the process growing without end.
/// </summary>
internal sealed class MemoryTail(long start)
{
    /// <summary>The most of a body kept in memory once the disk refused it.</summary>
    public const long MaxBytes = 64 * 1024 * 1024;

    private readonly object _lock = new();
    private readonly List<(long Start, byte[] Bytes)> _pieces = [];
    private long _bytes;

    /// <summary>The body offset where the tail begins (what the file holds ends there).</summary>
    public long Start { get; } = start;

    /// <summary>Appends a copy of <paramref name="piece"/>, the body's bytes from <paramref name="offset"/>.</summary>
    public void Append(long offset, ReadOnlySpan<byte> piece)
    {
        lock (_lock)
        {
            _bytes += piece.Length;
            if (_bytes > MaxBytes)
            {
                throw new IOException($"the disk refused the body and its rest is over {MaxBytes >> 20} MiB, more than is kept in memory");
            }

            _pieces.Add((offset, piece.ToArray()));
        }
    }

    /// <summary>Body bytes from <paramref name="offset"/> (at or after <see cref="Start"/>), at most <paramref name="count"/>.</summary>
    public ReadOnlyMemory<byte> Read(long offset, long count)
    {
        lock (_lock)
        {
            foreach (var (start, bytes) in _pieces)
            {
                if (offset >= start && offset < start + bytes.Length)
                {
                    var from = (int)(offset - start);
                    return bytes.AsMemory(from, (int)Math.Min(count, bytes.Length - from));
                }
            }
        }

        return ReadOnlyMemory<byte>.Empty;
    }
}
