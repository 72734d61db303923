using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Replicator.Fibers.Polling;

/// <summary>
/// The few libc calls the pollers need, declared with their C names. Linux only: the engine never hands these file
/// descriptors to .NET's own socket engine, so nothing else polls them.
/// </summary>
internal static unsafe partial class Interop
{
    private const string LibC = "libc";

    internal const int EINTR = 4;
    internal const int EAGAIN = 11;
    internal const int ENOENT = 2;
    internal const int EEXIST = 17;
    internal const int EPIPE = 32;
    internal const int ECONNRESET = 104;
    internal const int ENOTCONN = 107;
    internal const int ETIMEDOUT = 110;
    internal const int ECONNREFUSED = 111;
    internal const int ECONNABORTED = 103;
    internal const int ENETUNREACH = 101;
    internal const int EHOSTUNREACH = 113;

    internal const int F_GETFL = 3;
    internal const int F_SETFL = 4;
    internal const int O_NONBLOCK = 0x800;
    internal const int MSG_NOSIGNAL = 0x4000;
    internal const int SOCK_NONBLOCK = 0x800;
    internal const int SOCK_CLOEXEC = 0x80000;
    internal const int ENOMEM = 12;
    internal const int ENFILE = 23;
    internal const int EMFILE = 24;
    internal const int ENOBUFS = 105;

    internal const uint EPOLLIN = 0x001;
    internal const uint EPOLLOUT = 0x004;
    internal const uint EPOLLERR = 0x008;
    internal const uint EPOLLHUP = 0x010;
    internal const uint EPOLLRDHUP = 0x2000;
    internal const uint EPOLLET = 1u << 31;

    internal const int EPOLL_CTL_ADD = 1;
    internal const int EPOLL_CTL_MOD = 3;
    internal const int EPOLL_CLOEXEC = 0x80000;

    internal const short POLLIN = 0x001;
    internal const short POLLOUT = 0x004;
    internal const short POLLERR = 0x008;
    internal const short POLLHUP = 0x010;
    internal const short POLLNVAL = 0x020;

    internal const int EFD_CLOEXEC = 0x80000;
    internal const int EFD_NONBLOCK = 0x800;

    /// <summary>
    /// struct epoll_event is packed to 12 bytes on x86-64 (data at offset 4) and naturally aligned, 16 bytes, elsewhere
    /// (data at offset 8). We address it by offsets rather than a struct so one build serves both.
    /// </summary>
    internal static int EpollEventSize { get; } = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 12 : 16;
    internal static int EpollDataOffset { get; } = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 4 : 8;

    [StructLayout(LayoutKind.Sequential)]
    internal struct PollFd
    {
        public int Fd;
        public short Events;
        public short REvents;
    }

    [LibraryImport(LibC, SetLastError = true)]
    internal static partial int epoll_create1(int flags);

    [LibraryImport(LibC, SetLastError = true)]
    internal static partial int epoll_ctl(int epfd, int op, int fd, byte* ev);

    [LibraryImport(LibC, SetLastError = true)]
    internal static partial int epoll_wait(int epfd, byte* events, int maxevents, int timeout);

    [LibraryImport(LibC, SetLastError = true)]
    internal static partial int poll(PollFd* fds, nuint nfds, int timeout);

    [LibraryImport(LibC, SetLastError = true)]
    internal static partial int eventfd(uint initval, int flags);

    [LibraryImport(LibC, SetLastError = true)]
    internal static partial nint read(int fd, byte* buf, nuint count);

    [LibraryImport(LibC, SetLastError = true)]
    internal static partial nint write(int fd, byte* buf, nuint count);

    [LibraryImport(LibC, SetLastError = true)]
    internal static partial int close(int fd);

    [LibraryImport(LibC, SetLastError = true)]
    internal static partial nint recv(int fd, byte* buf, nuint len, int flags);

    [LibraryImport(LibC, SetLastError = true)]
    internal static partial nint send(int fd, byte* buf, nuint len, int flags);

    [LibraryImport(LibC, SetLastError = true)]
    internal static partial int accept4(int fd, nint addr, nint addrlen, int flags);

    /// <summary>What a socket call's errno means, as the SocketError that .NET's own calls would have thrown.</summary>
    internal static SocketError SocketErrorOf(int errno) => errno switch
    {
        EPIPE => SocketError.Shutdown,
        ECONNRESET => SocketError.ConnectionReset,
        ECONNABORTED => SocketError.ConnectionAborted,
        ENOTCONN => SocketError.NotConnected,
        ETIMEDOUT => SocketError.TimedOut,
        ECONNREFUSED => SocketError.ConnectionRefused,
        ENETUNREACH => SocketError.NetworkUnreachable,
        EHOSTUNREACH => SocketError.HostUnreachable,
        EAGAIN => SocketError.WouldBlock,
        EMFILE or ENFILE => SocketError.TooManyOpenSockets,
        ENOBUFS or ENOMEM => SocketError.NoBufferSpaceAvailable,
        _ => SocketError.SocketError,
    };

    [LibraryImport(LibC, SetLastError = true)]
    internal static partial nint sendfile(int out_fd, int in_fd, long* offset, nuint count);

    /// <summary>Throws the errno of the last call as an exception that names the call.</summary>
    internal static Exception Error(string call)
    {
        var errno = Marshal.GetLastPInvokeError();
        return new IOException($"{call} failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})", errno);
    }
}
