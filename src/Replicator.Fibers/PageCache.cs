using System.Buffers;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using Replicator.Fibers.Polling;

namespace Replicator.Fibers;

/// <summary>
/// Whether bytes of a file are in the page cache, and reading them in, off the loop, when they are not.
/// </summary>
/// <remarks>
/// Why: sendfile(2), and a send out of a mapping, read the disk for every page that is not in memory, and a loop that
/// reads the disk stops every fiber on it meanwhile. The bytes of a large body written around the page cache
/// (O_DIRECT), or evicted since, take milliseconds a window to come back from a busy disk, and every other connection
/// of that loop (a joiner's first byte, a small hit) waits behind them. So a fiber asks first, for each window of
/// <see cref="Window"/> bytes (cachestat(2), Linux 6.5; on older kernels a one-byte read with RWF_NOWAIT of the window's
/// first and last byte; for a mapping, mincore(2)), and when the bytes are not all there, has them read in on the
/// thread pool before it sends. Bytes evicted between the read-in and the send are read by the send, as before.
/// Where the answer cannot be had (a file system without RWF_NOWAIT), the bytes count as in memory: the send behaves
/// as it did before this check.
/// </remarks>
public static unsafe class PageCache
{
    /// <summary>The most a fiber sends from a file between two looks at the page cache.</summary>
    public const int Window = 1 << 20;

    private const int ReadInChunk = 128 * 1024;
    private static readonly int s_pageSize = Environment.SystemPageSize;
    private static int s_noCachestat;
    private static long s_readIns;

    /// <summary>Windows read in off the loops since the process started.</summary>
    public static long ReadIns => Interlocked.Read(ref s_readIns);

    /// <summary>True when every page of <paramref name="count"/> bytes of <paramref name="file"/> from <paramref name="offset"/> is in memory.</summary>
    public static bool IsResident(SafeFileHandle file, long offset, long count)
    {
        if (count <= 0)
        {
            return true;
        }

        var added = false;
        try
        {
            file.DangerousAddRef(ref added);
            var fd = (int)file.DangerousGetHandle();
            if (Volatile.Read(ref s_noCachestat) == 0)
            {
                var range = new Interop.CacheStatRange { Offset = (ulong)offset, Length = (ulong)count };
                Interop.CacheStat stat;
                if (Interop.syscall_cachestat(Interop.SYS_cachestat, fd, &range, &stat, 0) == 0)
                {
                    return stat.Cached >= (ulong)PagesIn(offset, count);
                }

                if (Marshal.GetLastPInvokeError() != Interop.ENOSYS)
                {
                    return true;
                }

                Volatile.Write(ref s_noCachestat, 1);
            }

            return Probe(fd, offset) && Probe(fd, offset + count - 1);
        }
        finally
        {
            if (added)
            {
                file.DangerousRelease();
            }
        }
    }

    /// <summary>
    /// Reads the bytes into the page cache (blocking: for the thread pool); returns how many were read. Errors are left
    /// to the send that follows, which meets them again and reports them as it always has.
    /// </summary>
    public static long ReadIn(SafeFileHandle file, long offset, long count)
    {
        Interlocked.Increment(ref s_readIns);
        var buffer = ArrayPool<byte>.Shared.Rent(ReadInChunk);
        long done = 0;
        try
        {
            while (done < count)
            {
                var read = RandomAccess.Read(file, buffer.AsSpan(0, (int)Math.Min(count - done, ReadInChunk)), offset + done);
                if (read <= 0)
                {
                    break;
                }

                done += read;
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or UnauthorizedAccessException)
        {
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        return done;
    }

    /// <summary>True when every page of <paramref name="length"/> bytes of a mapping from <paramref name="address"/> is in memory.</summary>
    public static bool IsResident(byte* address, long length)
    {
        var start = PageOf(address);
        var pages = PagesIn(address - start, length);
        var vector = stackalloc byte[256];
        for (long done = 0; done < pages;)
        {
            var chunk = (int)Math.Min(pages - done, 256);
            if (Interop.mincore(start + (done * s_pageSize), (nuint)(chunk * s_pageSize), vector) != 0)
            {
                return true;
            }

            for (var i = 0; i < chunk; i++)
            {
                if ((vector[i] & 1) == 0)
                {
                    return false;
                }
            }

            done += chunk;
        }

        return true;
    }

    /// <summary>
    /// Reads the pages of a mapping in (blocking: for the thread pool) without touching them from this process, so that a
    /// file that shrank meanwhile gives an error here rather than a signal: MADV_POPULATE_READ (Linux 5.14); on older
    /// kernels MADV_WILLNEED, which only starts the reads. True when the pages were read in.
    /// </summary>
    public static bool ReadIn(byte* address, long length)
    {
        Interlocked.Increment(ref s_readIns);
        var start = PageOf(address);
        var bytes = (nuint)(PagesIn(address - start, length) * s_pageSize);
        if (Interop.madvise(start, bytes, Interop.MADV_POPULATE_READ) == 0)
        {
            return true;
        }

        if (Marshal.GetLastPInvokeError() == Interop.EINVAL)
        {
            Interop.madvise(start, bytes, Interop.MADV_WILLNEED);
        }

        return false;
    }

    private static long PagesIn(long offset, long count) => ((offset + count - 1) / s_pageSize) - (offset / s_pageSize) + 1;

    private static byte* PageOf(byte* address) => (byte*)((nint)address & ~(nint)(s_pageSize - 1));

    /// <summary>Whether the page holding <paramref name="offset"/> is in memory, by a read that may not wait for the disk.</summary>
    private static bool Probe(int fd, long offset)
    {
        byte one;
        var vector = new Interop.IoVec { Base = &one, Length = 1 };
        return Interop.preadv2(fd, &vector, 1, offset, Interop.RWF_NOWAIT) >= 0 || Marshal.GetLastPInvokeError() != Interop.EAGAIN;
    }
}
