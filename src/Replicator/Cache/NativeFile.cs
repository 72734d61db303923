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

    [LibraryImport("libc", SetLastError = true)]
    private static partial int fsync(int fd);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open(string path, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int close(int fd);
}
