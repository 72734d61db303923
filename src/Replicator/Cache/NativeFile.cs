using Microsoft.Win32.SafeHandles;

namespace Replicator.Cache;

/// <summary>
/// Which file a name stands for, as it is now: a body replaced by rename is another inode, even with the same length,
/// and a body written in place has another change time.
/// </summary>
/// <summary>What a path names, a last symbolic link not followed (see <see cref="NativeFile.KindOf"/>).</summary>
internal enum PathKind
{
    Missing,
    Link,
    Other,
}

internal readonly record struct FileIdentity(uint DeviceMajor, uint DeviceMinor, ulong Inode, long Length, long ChangedSeconds, uint ChangedNanoseconds);

/// <summary>
/// What the cache needs of Linux beyond System.IO: fsync(2) for files and directories (what makes the write protocol
/// hold across a power cut, not just a crash), and statx(2) for a file's identity.
/// </summary>
internal static class NativeFile
{
    public static void Sync(SafeFileHandle file)
    {
        if (LibC.fsync((int)file.DangerousGetHandle()) != 0)
        {
            throw LibC.Error("fsync");
        }
    }

    /// <summary>
    /// Flushes everything written to the file system that holds <paramref name="file"/> (syncfs(2)): one flush for
    /// many files, where an fsync each would be one disk request each (see <see cref="GroupCommit"/>). Throws when
    /// the file system reports a write that failed.
    /// </summary>
    public static void SyncFileSystem(SafeFileHandle file)
    {
        if (LibC.syncfs((int)file.DangerousGetHandle()) != 0)
        {
            throw LibC.Error("syncfs");
        }
    }

    /// <summary>
    /// Takes an exclusive flock(2) on an open file without waiting: false when another open file (another process:
    /// a running proxy and `replicator mirror` on one root) holds it. The lock goes with the process, even killed.
    /// </summary>
    public static bool TryLockExclusive(SafeFileHandle file)
    {
        const int WouldBlock = 11; // EWOULDBLOCK (EAGAIN) on Linux
        if (LibC.flock((int)file.DangerousGetHandle(), LibC.LOCK_EX | LibC.LOCK_NB) == 0)
        {
            return true;
        }

        var errno = LibC.LastError;
        return errno == WouldBlock ? false : throw LibC.Error("flock", errno);
    }

    /// <summary>
    /// Lets go of the lock of <see cref="TryLockExclusive"/> (best effort): .NET's own file streams take shared flocks
    /// of their own, so a body in the tree must not stay locked while its readers hold it.
    /// </summary>
    public static void Unlock(SafeFileHandle file) => LibC.flock((int)file.DangerousGetHandle(), LibC.LOCK_UN);

    /// <summary>Makes a rename inside <paramref name="directory"/> durable; best effort.</summary>
    public static void SyncDirectory(string directory)
    {
        var fd = LibC.open(directory, LibC.O_RDONLY | LibC.O_DIRECTORY | LibC.O_CLOEXEC);
        if (fd >= 0)
        {
            LibC.fsync(fd);
            LibC.close(fd);
        }
    }

    /// <summary>
    /// Starts writing a range of a file out to disk without waiting (sync_file_range, LibC.SYNC_FILE_RANGE_WRITE), so
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
        ThreadPool.UnsafeQueueUserWorkItem(_ => LibC.sync_file_range(fd, offset, count, LibC.SYNC_FILE_RANGE_WRITE), null);
    }

    /// <summary>What <paramref name="path"/> names, not following a last symbolic link: one statx(2), no readlink.</summary>
    public static unsafe PathKind KindOf(string path)
    {
        const int TypeMask = 0xF000, Link = 0xA000; // S_IFMT, S_IFLNK; stx_mode at offset 28
        var buffer = stackalloc byte[256];
        if (LibC.statx(LibC.AT_FDCWD, path, LibC.AT_SYMLINK_NOFOLLOW, LibC.STATX_TYPE, buffer) != 0)
        {
            var errno = LibC.LastError;
            return errno is LibC.ENOENT or LibC.ENOTDIR ? PathKind.Missing : throw LibC.Error($"statx {path}", errno);
        }

        return (*(ushort*)(buffer + 28) & TypeMask) == Link ? PathKind.Link : PathKind.Other;
    }

    /// <summary>The identity of the file <paramref name="path"/> names; false when nothing is there.</summary>
    public static bool TryGetIdentity(string path, out FileIdentity identity) => TryStatx(LibC.AT_FDCWD, path, 0, out identity);

    /// <summary>The identity of an open file.</summary>
    public static FileIdentity GetIdentity(SafeFileHandle file) =>
        TryStatx((int)file.DangerousGetHandle(), string.Empty, LibC.AT_EMPTY_PATH, out var identity) ? identity : throw new IOException("the open file has no identity");

    private static unsafe bool TryStatx(int directory, string path, int flags, out FileIdentity identity)
    {
        // struct statx is the same on every architecture: stx_ino at 32, stx_size at 40, stx_ctime at 96,
        // stx_dev_major/minor at 136/140.
        var buffer = stackalloc byte[256];
        if (LibC.statx(directory, path, flags, LibC.STATX_INO | LibC.STATX_SIZE | LibC.STATX_CTIME, buffer) != 0)
        {
            var errno = LibC.LastError;
            identity = default;
            return errno is LibC.ENOENT or LibC.ENOTDIR ? false : throw LibC.Error($"statx {path}", errno);
        }

        identity = new FileIdentity(*(uint*)(buffer + 136), *(uint*)(buffer + 140), *(ulong*)(buffer + 32), *(long*)(buffer + 40), *(long*)(buffer + 96), *(uint*)(buffer + 104));
        return true;
    }
}
