using System.Runtime.InteropServices;
using Replicator.Fibers.Polling;

namespace Replicator.Fibers.Tests;

public partial class InteropTests
{
    [Fact]
    public void EpollEventLayout_MatchesTheKernelAbiOfThisArchitecture()
    {
        // struct epoll_event is __attribute__((packed)) on x86-64 only.
        var (size, dataOffset) = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? (12, 4) : (16, 8);

        Assert.Equal(size, Interop.EpollEventSize);
        Assert.Equal(dataOffset, Interop.EpollDataOffset);
    }

    [Fact]
    public void PollFdLayout_IsEightBytes()
    {
        Assert.Equal(8, Marshal.SizeOf<Interop.PollFd>());
    }

    [Fact]
    public void Accept_WithNothingPending_IsWouldBlock_AndAnAcceptedSocketNeverBlocks()
    {
        using var listener = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
        listener.Bind(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0));
        listener.Listen(1);
        listener.Blocking = false;

        var refused = Assert.Throws<System.Net.Sockets.SocketException>(() => FiberSocketExtensions.Accept(listener));
        Assert.Equal(System.Net.Sockets.SocketError.WouldBlock, refused.SocketErrorCode);

        var (fiberEnd, testEnd) = TestSockets.Pair();
        using (fiberEnd)
        using (testEnd)
        {
            // Non-blocking at the kernel: a read with nothing to read fails at once (EAGAIN) instead of waiting.
            var buffer = new byte[16];
            var handle = fiberEnd.SafeHandle.DangerousGetHandle();
            Assert.Equal(-1, (long)RecvNow((int)handle, buffer));
            Assert.Equal(Interop.EAGAIN, Marshal.GetLastPInvokeError());
            Assert.Equal(testEnd.LocalEndPoint, fiberEnd.RemoteEndPoint);
        }
    }

    private static nint RecvNow(int fd, byte[] buffer) => recv(fd, buffer, (nuint)buffer.Length, 0);

#pragma warning disable SYSLIB1054, CA5392, SA1300 // the C name, a plain import: the test project takes no unsafe code
    [DllImport("libc", SetLastError = true)]
    private static extern nint recv(int fd, byte[] buffer, nuint length, int flags);
#pragma warning restore SYSLIB1054, CA5392, SA1300
}
