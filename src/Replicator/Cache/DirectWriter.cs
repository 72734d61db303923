using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Replicator.Cache;

/// <summary>
/// Why a large body is written around the page cache (issue 13): on a miss the proxy copies every byte into new
/// page-cache pages, and that copy, not the network or the disk, was what held a 1 GiB miss to a fraction of a direct
/// download (bench/miss-profile.sh: 70% of the proxy's time in the kernel's copy into the page cache). With O_DIRECT
/// the disk takes the bytes from a small aligned buffer of ours, the copy into cold pages is gone, and a large body
/// does not push the hot small files out of the page cache (nginx's "directio" for the same reasons).
///
/// O_DIRECT wants offsets, lengths and memory aligned to the device's block: each write is split into a head up to
/// the next 4 KiB boundary and a tail after the last one, written through the page cache (the file's ordinary
/// handle), and the aligned middle, written directly. A page is thus always written the same way. A file system that
/// refuses O_DIRECT (at open or at the first write: EINVAL) gets every byte through the page cache instead; any other
/// failure (a full disk) is the write's failure, as with the ordinary handle.
/// One writer at a time (the download's write behind); the ordinary handle stays the file's owner (fsync, length, locks).
/// </summary>
internal sealed unsafe class DirectWriter : IDisposable
{
    /// <summary>The alignment O_DIRECT needs on every Linux block device in use (512 or 4096 bytes).</summary>
    public const int Alignment = 4096;

    /// <summary>The aligned buffer: each direct write takes at most this much.</summary>
    private const int BufferSize = 1 << 20;

    private readonly SafeFileHandle _file;
    private int _direct;
    private byte* _buffer;

    /// <summary>
    /// Opens <paramref name="file"/> a second time for direct writes, through /proc/self/fd: the same file whatever
    /// has become of its name (without /proc, the writes go through the page cache).
    /// </summary>
    public DirectWriter(SafeFileHandle file)
    {
        _file = file;
        var fd = (int)file.DangerousGetHandle();
        _direct = LibC.open(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"/proc/self/fd/{fd}"), LibC.O_WRONLY | LibC.O_DIRECT | LibC.O_CLOEXEC);
    }

    /// <summary>Bytes that went to the disk directly so far (the rest went through the page cache).</summary>
    public long DirectBytes { get; private set; }

    /// <summary>Whether writes still go around the page cache (false when the file system refused it).</summary>
    public bool IsDirect => _direct >= 0;

    public void Write(long offset, ReadOnlySpan<byte> piece)
    {
        var head = (int)Math.Min(piece.Length, (Alignment - (offset % Alignment)) % Alignment);
        var middle = (piece.Length - head) / Alignment * Alignment;
        if (!IsDirect || middle == 0)
        {
            RandomAccess.Write(_file, piece, offset);
            return;
        }

        RandomAccess.Write(_file, piece[..head], offset);
        offset += head;
        piece = piece[head..];
        var done = WriteAligned(piece[..middle], offset);
        RandomAccess.Write(_file, piece[done..], offset + done);
    }

    public void Dispose()
    {
        if (_direct >= 0)
        {
            LibC.close(_direct);
            _direct = -1;
        }

        if (_buffer is not null)
        {
            NativeMemory.AlignedFree(_buffer);
            _buffer = null;
        }
    }

    /// <summary>Writes aligned bytes directly; returns how many were (all, unless O_DIRECT was refused on the way).</summary>
    private int WriteAligned(ReadOnlySpan<byte> aligned, long offset)
    {
        if (_buffer is null)
        {
            _buffer = (byte*)NativeMemory.AlignedAlloc(BufferSize, Alignment);
        }

        var done = 0;
        while (done < aligned.Length)
        {
            var count = Math.Min(aligned.Length - done, BufferSize);
            aligned.Slice(done, count).CopyTo(new Span<byte>(_buffer, count));
            for (var at = 0; at < count;)
            {
                var written = LibC.pwrite(_direct, _buffer + at, (nuint)(count - at), offset + done + at);
                if (written > 0)
                {
                    // A short direct write ends on a block boundary (or at a full disk, which the next call reports).
                    at += (int)written;
                    DirectBytes += written;
                    continue;
                }

                var errno = LibC.LastError;
                if (written < 0 && errno == LibC.EINTR)
                {
                    continue;
                }

                if (written < 0 && errno == LibC.EINVAL)
                {
                    // This file system takes no direct writes after all: the page cache from here on.
                    Dispose();
                    return done + at;
                }

                throw written == 0 ? new IOException("pwrite wrote nothing") : LibC.Error("pwrite", errno);
            }

            done += count;
        }

        return done;
    }
}
