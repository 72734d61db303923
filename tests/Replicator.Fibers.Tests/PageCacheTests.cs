using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Replicator.Fibers.Tests;

/// <summary>
/// Whether a file's bytes are in memory, and sending a file whose bytes are not, on real files on the disk the tests
/// are built on (a tmpfs would keep every byte in memory). One class, so that no other test reads in meanwhile.
/// </summary>
public sealed class PageCacheTests : EngineTestBase
{
    private readonly string _directory;

    public PageCacheTests()
    {
        _directory = Directory.CreateDirectory(Path.Combine(AppContext.BaseDirectory, "page-cache-" + Guid.NewGuid().ToString("N"))).FullName;
        Disposed(new Disposal(() => Directory.Delete(_directory, recursive: true)));
    }

    protected override PollerKind Poller => PollerKind.Epoll;

    [Fact]
    public void BytesDroppedFromThePageCache_AreNotInMemory_UntilReadIn()
    {
        using var file = ColdFile(_directory, 3 << 20, out _);

        Assert.False(PageCache.IsResident(file, 0, PageCache.Window));
        Assert.False(PageCache.IsResident(file, (2 << 20) + 100, 1000));

        var readIns = PageCache.ReadIns;
        Assert.Equal(PageCache.Window, PageCache.ReadIn(file, 0, PageCache.Window));

        Assert.True(PageCache.IsResident(file, 0, PageCache.Window));
        Assert.True(PageCache.IsResident(file, 4096, 10));
        Assert.False(PageCache.IsResident(file, PageCache.Window, PageCache.Window), "only the window read was read in");
        Assert.True(PageCache.ReadIns > readIns);
    }

    [Fact]
    public void ReadIn_PastTheEnd_ReadsWhatThereIs()
    {
        using var file = ColdFile(_directory, 5000, out _);

        Assert.Equal(5000, PageCache.ReadIn(file, 0, PageCache.Window));
        Assert.True(PageCache.IsResident(file, 0, 5000));
    }

    [Fact]
    public async Task SendFileAsync_BytesNotInMemory_AreReadInOffTheLoopWindowByWindow_AndSentWhole()
    {
        using var file = ColdFile(_directory, (2 << 20) + 12345, out var bytes);
        var engine = StartEngine(loops: 1);
        var (fiberEnd, testEnd) = Pair();
        var readIns = PageCache.ReadIns;
        var sent = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        engine.Spawn("sender", async fiber =>
        {
            await fiber.SendFileAsync(fiberEnd, file, 100, bytes.Length - 100, LongWait);
            sent.SetResult();
        });

        var received = TestSockets.ReceiveExactly(testEnd, bytes.Length - 100);
        await sent.Task.Within();

        Assert.Equal(bytes.AsSpan(100).ToArray(), received);
        Assert.Equal(readIns + 3, PageCache.ReadIns);
        Assert.True(PageCache.IsResident(file, 100, bytes.Length - 100));
    }

    [Fact]
    public async Task SendFileAsync_BytesInMemory_AreSentWithoutAReadIn()
    {
        using var file = ColdFile(_directory, 300_000, out var bytes);
        PageCache.ReadIn(file, 0, bytes.Length);
        var engine = StartEngine(loops: 1);
        var (fiberEnd, testEnd) = Pair();
        var readIns = PageCache.ReadIns;
        engine.Spawn("sender", fiber => fiber.SendFileAsync(fiberEnd, file, 0, bytes.Length, LongWait));

        Assert.Equal(bytes, TestSockets.ReceiveExactly(testEnd, bytes.Length));
        Assert.Equal(readIns, PageCache.ReadIns);
    }

    /// <summary>A file of random bytes, written, synced and dropped from the page cache, opened for reading without readahead.</summary>
    internal static SafeFileHandle ColdFile(string directory, int length, out byte[] bytes)
    {
        bytes = new byte[length];
        new Random(length).NextBytes(bytes);
        var path = Path.Combine(directory, Guid.NewGuid().ToString("N"));
        using (var stream = new FileStream(path, FileMode.CreateNew))
        {
            stream.Write(bytes);
            stream.Flush(flushToDisk: true);
        }

        var file = File.OpenHandle(path);
        Assert.Equal(0, posix_fadvise(file, 0, 0, PosixFadviseDontNeed));
        Assert.Equal(0, posix_fadvise(file, 0, 0, PosixFadviseRandom)); // no readahead: only what is read comes in
        return file;
    }

    private const int PosixFadviseRandom = 1;
    private const int PosixFadviseDontNeed = 4;

#pragma warning disable SYSLIB1054, CA5392, SA1300 // the C name, a plain import: the test project takes no unsafe code
    [DllImport("libc")]
    private static extern int posix_fadvise(SafeFileHandle fd, long offset, long length, int advice);
#pragma warning restore SYSLIB1054, CA5392, SA1300
}
