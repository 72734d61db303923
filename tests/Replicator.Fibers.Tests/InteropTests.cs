using System.Runtime.InteropServices;
using Replicator.Fibers.Polling;

namespace Replicator.Fibers.Tests;

public class InteropTests
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
}
