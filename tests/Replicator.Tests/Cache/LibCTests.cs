using System.Runtime.InteropServices;
using Replicator.Cache;

namespace Replicator.Tests.Cache;

/// <summary>The open(2) flags that differ between architectures: an arm64 build must not use x64's numbers.</summary>
public sealed class LibCTests
{
    [Fact]
    public void OpenFlags_AreThoseOfTheArchitecture()
    {
        // asm-generic/fcntl.h (x64) and arch/arm64/include/uapi/asm/fcntl.h: x64's O_DIRECTORY is arm64's O_DIRECT.
        Assert.Equal((0x10000, 0x20000, 0x4000), LibC.OpenFlagsOf(Architecture.X64));
        Assert.Equal((0x4000, 0x8000, 0x10000), LibC.OpenFlagsOf(Architecture.Arm64));
        Assert.Equal(LibC.OpenFlagsOf(RuntimeInformation.ProcessArchitecture), LibC.OpenFlags);
    }

    [Fact]
    public void OpenFlags_MeanWhatTheySay_OnThisMachine()
    {
        var directory = Directory.CreateTempSubdirectory("replicator-libc-").FullName;
        try
        {
            var file = Path.Combine(directory, "file");
            File.WriteAllText(file, "x");
            var link = Path.Combine(directory, "link");
            File.CreateSymbolicLink(link, file);

            var fd = LibC.open(directory, LibC.O_RDONLY | LibC.O_DIRECTORY | LibC.O_CLOEXEC);
            Assert.True(fd >= 0);
            LibC.close(fd);
            Assert.True(LibC.open(file, LibC.O_RDONLY | LibC.O_DIRECTORY | LibC.O_CLOEXEC) < 0); // not a directory
            Assert.Equal(LibC.ELOOP, LibC.open(link, LibC.O_RDONLY | LibC.O_NOFOLLOW | LibC.O_CLOEXEC) < 0 ? LibC.LastError : 0);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
