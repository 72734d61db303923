using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Replicator.Cache;

/// <summary>fsync(2) for files and directories: what makes the write protocol hold across a power cut, not just a crash.</summary>
internal static partial class NativeFile
{
    private const int O_RDONLY = 0;
    private const int O_DIRECTORY = 0x10000;
    private const int O_CLOEXEC = 0x80000;

    public static void Sync(SafeFileHandle file)
    {
        if (fsync((int)file.DangerousGetHandle()) != 0)
        {
            throw new IOException($"fsync failed (errno {Marshal.GetLastPInvokeError()})");
        }
    }

    /// <summary>Makes a rename inside <paramref name="directory"/> durable; best effort.</summary>
    public static void SyncDirectory(string directory)
    {
        var fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd >= 0)
        {
            fsync(fd);
            close(fd);
        }
    }

    /// <summary>
    /// Starts writing a range of a file out to disk without waiting (sync_file_range, SYNC_FILE_RANGE_WRITE), so
    /// that the fsync at the end of a long download finds little left to do. Runs on the thread pool: even starting
    /// writeback can block when the disk is busy. A handle closed meanwhile makes it a harmless no-op.
    /// </summary>
    public static void StartWriteback(SafeFileHandle file, long offset, long count)
    {
        if (file.IsClosed)
        {
            return;
        }

        var fd = (int)file.DangerousGetHandle();
        ThreadPool.UnsafeQueueUserWorkItem(_ => sync_file_range(fd, offset, count, SYNC_FILE_RANGE_WRITE), null);
    }

    private const uint SYNC_FILE_RANGE_WRITE = 2;

    [LibraryImport("libc", SetLastError = true)]
    private static partial int sync_file_range(int fd, long offset, long nbytes, uint flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int fsync(int fd);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open(string path, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int close(int fd);
}
