using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Replicator.Cache;

/// <summary>
/// Opens files of the cache tree for reading without ever following a symbolic link below the root.
/// </summary>
/// <remarks>
/// Why: the tree is meant to be copied around and shared, so anyone with write access to it could plant
/// <c>ROOT/host/etc -> /etc</c> and have the proxy serve <c>/etc/shadow</c>. Every body is opened with openat2(2)
/// relative to the root with RESOLVE_BENEATH and RESOLVE_NO_SYMLINKS: one system call, as cheap as open(2), and
/// the kernel refuses any link on the way (a link is reported as a missing file: the entry is not in the cache).
/// Kernels before 5.6 lack openat2: there each component is checked with lstat(2) and the file opened with
/// O_NOFOLLOW. The root itself may be a link (the administrator's choice).
/// </remarks>
internal sealed partial class TreeReader : IDisposable
{
    private const int O_RDONLY = 0;
    private const int O_NOFOLLOW = 0x20000;
    private const int O_DIRECTORY = 0x10000;
    private const int O_CLOEXEC = 0x80000;
    private const int O_PATH = 0x200000;
    private const ulong RESOLVE_NO_MAGICLINKS = 0x02;
    private const ulong RESOLVE_NO_SYMLINKS = 0x04;
    private const ulong RESOLVE_BENEATH = 0x08;
    private const int SYS_openat2 = 437;
    private const int ENOENT = 2;
    private const int ENOTDIR = 20;
    private const int ELOOP = 40;
    private const int EXDEV = 18;
    private const int ENOSYS = 38;
    private const int EAGAIN = 11;

    private static bool s_noOpenat2;
    private readonly object _lock = new();
    private SafeFileHandle? _root;

    public TreeReader(string root)
    {
        Root = Path.TrimEndingDirectorySeparator(Path.GetFullPath(root));
    }

    public string Root { get; }

    /// <summary>
    /// Opens <paramref name="path"/> (under <see cref="Root"/>) for reading; <see cref="FileNotFoundException"/> when
    /// nothing is there or a symbolic link stands on the way.
    /// </summary>
    public SafeFileHandle OpenForReading(string path)
    {
        if (!path.StartsWith(Root, StringComparison.Ordinal) || path.Length <= Root.Length + 1 || path[Root.Length] != '/')
        {
            throw new FileNotFoundException($"{path} is not in the cache tree {Root}", path);
        }

        var relative = path[(Root.Length + 1)..];
        var fd = s_noOpenat2 ? -1 : OpenBeneath(RootHandle(), relative);
        if (fd < 0 && (s_noOpenat2 || Marshal.GetLastPInvokeError() == ENOSYS))
        {
            s_noOpenat2 = true;
            fd = OpenByWalking(relative);
        }

        if (fd < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            throw errno switch
            {
                ENOENT or ENOTDIR => new FileNotFoundException($"{path} is not there", path),
                ELOOP or EXDEV => new FileNotFoundException($"{path} passes through a symbolic link, which the cache never follows", path),
                _ => new IOException($"cannot open {path} (errno {errno})"),
            };
        }

        return new SafeFileHandle(fd, ownsHandle: true);
    }

    /// <summary>Whether <paramref name="relative"/> (a path below the root) passes through a symbolic link, the last name included.</summary>
    public bool PassesThroughLink(string relative)
    {
        var current = Root;
        foreach (var name in relative.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            current = current + "/" + name;
            var info = new FileInfo(current);
            if (info.LinkTarget is not null)
            {
                return true;
            }

            if (!info.Exists && !Directory.Exists(current))
            {
                return false; // nothing further down can be a link
            }
        }

        return false;
    }

    public void Dispose() => _root?.Dispose();

    private SafeFileHandle RootHandle()
    {
        if (_root is { IsInvalid: false } root)
        {
            return root;
        }

        lock (_lock)
        {
            if (_root is null || _root.IsInvalid)
            {
                var fd = open(Root, O_PATH | O_DIRECTORY | O_CLOEXEC);
                _root = fd >= 0 ? new SafeFileHandle(fd, ownsHandle: true) : throw new IOException($"cannot open the cache root {Root} (errno {Marshal.GetLastPInvokeError()})");
            }

            return _root;
        }
    }

    private static unsafe int OpenBeneath(SafeFileHandle root, string relative)
    {
        // struct open_how { u64 flags; u64 mode; u64 resolve; }
        var how = stackalloc ulong[3];
        how[0] = O_RDONLY | O_CLOEXEC;
        how[1] = 0;
        how[2] = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
        var bytes = System.Text.Encoding.UTF8.GetBytes(relative + "\0");
        fixed (byte* name = bytes)
        {
            while (true)
            {
                var fd = (int)syscall(SYS_openat2, (long)root.DangerousGetHandle(), (long)name, (long)how, 24);
                if (fd >= 0 || Marshal.GetLastPInvokeError() != EAGAIN)
                {
                    return fd;
                }
            }
        }
    }

    private int OpenByWalking(string relative)
    {
        if (PassesThroughLink(relative))
        {
            Marshal.SetLastPInvokeError(ELOOP);
            return -1;
        }

        return open(Root + "/" + relative, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial long syscall(long number, long a, long b, long c, long d);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open(string path, int flags);
}
