using System.Runtime.InteropServices;

namespace Replicator.Cache;

/// <summary>
/// Every libc call of the program, declared with its C name and constants, and the one way an errno becomes an
/// exception. Linux only (the cache's durability and link rules need these calls; see NativeFile and TreeReader).
/// </summary>
internal static unsafe partial class LibC
{
    private const string Library = "libc";

    public const int ENOENT = 2;
    public const int EAGAIN = 11;
    public const int EXDEV = 18;
    public const int ENOTDIR = 20;
    public const int ENOSYS = 38;
    public const int ELOOP = 40;
    public const int EINVAL = 22;
    public const int EINTR = 4;

    public const int O_RDONLY = 0;
    public const int O_WRONLY = 1;
    public const int O_CLOEXEC = 0x80000;
    public const int O_PATH = 0x200000;

    /// <summary>open(2) flags whose values depend on the architecture (arm64 has its own; x64 the generic ones).</summary>
    public static readonly (int Directory, int NoFollow, int Direct) OpenFlags = OpenFlagsOf(RuntimeInformation.ProcessArchitecture);

    public static int O_DIRECTORY => OpenFlags.Directory;

    public static int O_NOFOLLOW => OpenFlags.NoFollow;

    public static int O_DIRECT => OpenFlags.Direct;

    /// <summary>O_DIRECTORY, O_NOFOLLOW and O_DIRECT on <paramref name="architecture"/> (asm-generic/fcntl.h, and arm's own).</summary>
    public static (int Directory, int NoFollow, int Direct) OpenFlagsOf(Architecture architecture) => architecture is Architecture.Arm64 or Architecture.Arm
        ? (0x4000, 0x8000, 0x10000)
        : (0x10000, 0x20000, 0x4000);

    public const int AT_FDCWD = -100;
    public const int AT_EMPTY_PATH = 0x1000;
    public const uint STATX_TYPE = 0x1;
    public const int AT_SYMLINK_NOFOLLOW = 0x100;
    public const uint STATX_CTIME = 0x80;
    public const uint STATX_INO = 0x100;
    public const uint STATX_SIZE = 0x200;
    public const uint SYNC_FILE_RANGE_WRITE = 2;

    public const ulong RESOLVE_NO_MAGICLINKS = 0x02;
    public const ulong RESOLVE_NO_SYMLINKS = 0x04;
    public const ulong RESOLVE_BENEATH = 0x08;

    /// <summary>openat2(2) has no libc wrapper in older glibc: it is called through syscall(2).</summary>
    public const int SYS_openat2 = 437;

    /// <summary>The errno of the last call.</summary>
    public static int LastError => Marshal.GetLastPInvokeError();

    /// <summary>The last call's failure as an IOException that names the call, the errno's text and its number.</summary>
    public static IOException Error(string call, int? errno = null)
    {
        var code = errno ?? LastError;
        return new IOException($"{call} failed: {Marshal.GetPInvokeErrorMessage(code)} (errno {code})", code);
    }

    [LibraryImport(Library, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int statx(int dirfd, string path, int flags, uint mask, byte* buffer);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int sync_file_range(int fd, long offset, long nbytes, uint flags);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int fsync(int fd);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int syncfs(int fd);

    [LibraryImport(Library, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int open(string path, int flags);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int close(int fd);

    [LibraryImport(Library, SetLastError = true)]
    public static partial nint pwrite(int fd, byte* buffer, nuint count, long offset);

    /// <summary>flock(2) operations: an exclusive lock, without waiting.</summary>
    public const int LOCK_EX = 2, LOCK_NB = 4, LOCK_UN = 8;

    [LibraryImport(Library, SetLastError = true)]
    public static partial int flock(int fd, int operation);

    [LibraryImport(Library, SetLastError = true)]
    public static partial long syscall(long number, long a, long b, long c, long d);
}
