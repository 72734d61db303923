using System.Buffers;
using System.IO.MemoryMappedFiles;

namespace Replicator.Cache;

/// <summary>
/// A large body mapped read-only into memory, for clients on this host.
/// </summary>
/// <remarks>
/// Why: a client on the same machine copies every byte out of its socket itself. Sent with sendfile(2), the bytes come
/// from the page cache cold in the CPU cache, and the client's copy runs at memory speed. Copied by us from a mapping
/// into a small socket buffer, they are still in the CPU cache when the client copies them, and the two copies cost
/// less than the client's one cold copy (docs/benchmarks.md). Mapping costs page-table work in proportion to the
/// size, so mappings are kept (<see cref="KeptBodies{TBody}"/>). Remote clients keep sendfile, which copies nothing.
/// Mapped bytes are only ever read by the kernel (send(2)): a file truncated under a mapping makes that send fail
/// with EFAULT, never a signal in this process.
/// </remarks>
internal sealed unsafe class MappedBody : KeptBody
{
    private readonly MemoryMappedFile _file;
    private readonly MemoryMappedViewAccessor _view;
    private readonly byte* _start;

    private MappedBody(string path, FileIdentity identity, MemoryMappedFile file, MemoryMappedViewAccessor view)
        : base(path, identity)
    {
        _file = file;
        _view = view;
        byte* start = null;
        view.SafeMemoryMappedViewHandle.AcquirePointer(ref start);
        _start = start + view.PointerOffset;
    }

    /// <summary>Keeps large bodies mapped: up to 8 GiB in 4,096 mappings (the kernel allows 65,530), 2 GiB at most each.</summary>
    public static KeptBodies<MappedBody> Keeper(TimeProvider clock, TreeReader tree, long byteBudget, int countBudget = 4096, TimeSpan? idleAfter = null) =>
        new(clock, path => Map(tree, path), byteBudget / 4, byteBudget, countBudget, idleAfter ?? TimeSpan.FromSeconds(30));

    /// <summary>
    /// <paramref name="count"/> bytes from <paramref name="offset"/>, to hand to a socket send while the lease is held.
    /// Never read them in this process: only the kernel may touch a mapping whose file could shrink.
    /// </summary>
    public ReadOnlyMemory<byte> Window(long offset, int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(offset + count, Length);
        return new MappedWindow(_start + offset, count).Memory;
    }

    /// <summary>Maps the file at <paramref name="path"/> as it is when opened; null when it is empty by then.</summary>
    private static MappedBody? Map(TreeReader tree, string path)
    {
        var handle = tree.OpenForReading(path);
        try
        {
            var identity = NativeFile.GetIdentity(handle);
            if (identity.Length == 0)
            {
                handle.Dispose();
                return null;
            }

            var file = MemoryMappedFile.CreateFromFile(handle, null, 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: false);
            try
            {
                return new MappedBody(path, identity, file, file.CreateViewAccessor(0, identity.Length, MemoryMappedFileAccess.Read));
            }
            catch
            {
                file.Dispose();
                throw;
            }
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    protected internal override void Free()
    {
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _file.Dispose();
    }

    /// <summary>A piece of the mapping as <see cref="Memory{T}"/>, for the socket API; it owns nothing.</summary>
    private sealed class MappedWindow(byte* start, int length) : MemoryManager<byte>
    {
        public override Span<byte> GetSpan() => new(start, length);

        public override MemoryHandle Pin(int elementIndex = 0) => new(start + elementIndex);

        public override void Unpin()
        {
        }

        protected override void Dispose(bool disposing)
        {
        }
    }
}
