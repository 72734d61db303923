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
/// O_NOFOLLOW. The root itself may be a link (the administrator's choice); it is opened once, so the root directory
/// is the one the process found (whoever can replace the root itself needs no link to write anywhere).
/// </remarks>
internal sealed class TreeReader : IDisposable
{
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
        var fd = s_noOpenat2 ? -1 : OpenBeneath(RootHandle(), relative, LibC.O_RDONLY | LibC.O_CLOEXEC);
        if (fd < 0 && (s_noOpenat2 || LibC.LastError == LibC.ENOSYS))
        {
            s_noOpenat2 = true;
            fd = OpenByWalking(relative);
        }

        if (fd < 0)
        {
            var errno = LibC.LastError;
            throw errno switch
            {
                LibC.ENOENT or LibC.ENOTDIR => new FileNotFoundException($"{path} is not there", path),
                LibC.ELOOP or LibC.EXDEV => new FileNotFoundException($"{path} passes through a symbolic link, which the cache never follows", path),
                _ => LibC.Error($"open {path}", errno),
            };
        }

        return new SafeFileHandle(fd, ownsHandle: true);
    }

    /// <summary>
    /// Whether <paramref name="relative"/> (a path below the root) passes through a symbolic link, the last name
    /// included. One openat2(2) of the path (O_PATH, no link resolved): asked before every write of a partial, a
    /// body and its metadata, where a walk of the path costs one stat per name.
    /// </summary>
    public bool PassesThroughLink(string relative)
    {
        if (!s_noOpenat2 && TryRootHandle() is { } root)
        {
            var fd = OpenBeneath(root, relative, LibC.O_PATH | LibC.O_CLOEXEC);
            if (fd >= 0)
            {
                LibC.close(fd);
                return false;
            }

            switch (LibC.LastError)
            {
                case LibC.ELOOP or LibC.EXDEV:
                    return true;
                case LibC.ENOENT or LibC.ENOTDIR:
                    return false; // resolved in order: a link before the missing name would have been refused
                case LibC.ENOSYS:
                    s_noOpenat2 = true;
                    break;
            }
        }

        return PassesThroughLinkByWalking(relative);
    }

    private bool PassesThroughLinkByWalking(string relative)
    {
        var current = Root;
        foreach (var name in relative.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            current = current + "/" + name;
            switch (NativeFile.KindOf(current))
            {
                case PathKind.Link:
                    return true;
                case PathKind.Missing:
                    return false; // nothing further down can be a link
            }
        }

        return false;
    }

    public void Dispose() => _root?.Dispose();

    /// <summary>The root's handle, or null while the root does not exist yet (nothing below it can be a link then).</summary>
    private SafeFileHandle? TryRootHandle()
    {
        try
        {
            return RootHandle();
        }
        catch (IOException)
        {
            return null;
        }
    }

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
                var fd = LibC.open(Root, LibC.O_PATH | LibC.O_DIRECTORY | LibC.O_CLOEXEC);
                _root = fd >= 0 ? new SafeFileHandle(fd, ownsHandle: true) : throw LibC.Error($"open the cache root {Root}");
            }

            return _root;
        }
    }

    private static unsafe int OpenBeneath(SafeFileHandle root, string relative, int flags)
    {
        // struct open_how { u64 flags; u64 mode; u64 resolve; }
        var how = stackalloc ulong[3];
        how[0] = (ulong)flags;
        how[1] = 0;
        how[2] = LibC.RESOLVE_BENEATH | LibC.RESOLVE_NO_SYMLINKS | LibC.RESOLVE_NO_MAGICLINKS;
        var bytes = System.Text.Encoding.UTF8.GetBytes(relative + "\0");
        fixed (byte* name = bytes)
        {
            while (true)
            {
                var fd = (int)LibC.syscall(LibC.SYS_openat2, (long)root.DangerousGetHandle(), (long)name, (long)how, 24);
                if (fd >= 0 || LibC.LastError != LibC.EAGAIN)
                {
                    return fd;
                }
            }
        }
    }

    private int OpenByWalking(string relative)
    {
        if (PassesThroughLinkByWalking(relative))
        {
            Marshal.SetLastPInvokeError(LibC.ELOOP);
            return -1;
        }

        return LibC.open(Root + "/" + relative, LibC.O_RDONLY | LibC.O_NOFOLLOW | LibC.O_CLOEXEC);
    }
}
