using System.Buffers;
using System.IO.MemoryMappedFiles;

namespace Replicator.Cache;

/// <summary>
/// Large stored bodies kept mapped into memory between requests, for clients on this host.
/// </summary>
/// <remarks>
/// Why: a client on the same machine copies every byte out of its socket itself. Sent with sendfile(2), the bytes come
/// from the page cache cold in the CPU cache, and the client's copy runs at memory speed. Copied by us from a mapping
/// into a small socket buffer, they are still in the CPU cache when the client copies them, and the two copies cost
/// less than the client's one cold copy (docs/benchmarks.md). Mapping a file costs page-table work in proportion to
/// its size, so a mapping is kept and reused while it is wanted. Remote clients keep sendfile, which copies nothing.
///
/// A mapping is found by the body's path and checked against the file's identity (inode and length) at every lease:
/// a body replaced by rename is mapped afresh, and readers of the old one finish with the old bytes. Mapped bytes
/// are only ever read by the kernel (send(2)): a file truncated under a mapping makes that send fail with EFAULT,
/// never a signal in this process. Mappings not leased for a while are let go, so a deleted body's space is freed.
/// </remarks>
internal sealed class MappedBodies
{
    private static readonly TimeSpan s_sweepEvery = TimeSpan.FromSeconds(10);

    private readonly Dictionary<string, MappedBody> _byPath = new(StringComparer.Ordinal);
    private readonly LinkedList<MappedBody> _recent = new();
    private readonly TimeProvider _clock;
    private readonly long _byteBudget;
    private readonly int _countBudget;
    private readonly TimeSpan _idleAfter;
    private ITimer? _sweeper;
    private long _mappedBytes;

    /// <param name="clock">Decides when a mapping has been idle long enough to let go.</param>
    /// <param name="byteBudget">Most bytes kept mapped; a body over a quarter of it is never mapped.</param>
    /// <param name="countBudget">Most mappings kept (each is a kernel memory area; the default limit is 65530).</param>
    /// <param name="idleAfter">A mapping not leased for this long is let go.</param>
    public MappedBodies(TimeProvider clock, long byteBudget = 8L << 30, int countBudget = 4096, TimeSpan? idleAfter = null)
    {
        _clock = clock;
        _byteBudget = byteBudget;
        _countBudget = countBudget;
        _idleAfter = idleAfter ?? TimeSpan.FromSeconds(30);
    }

    /// <summary>How many bodies are kept mapped.</summary>
    public int Count
    {
        get
        {
            lock (_byPath)
            {
                return _byPath.Count;
            }
        }
    }

    /// <summary>
    /// A lease on the body at <paramref name="path"/>, mapped (dispose it when done); null when the body is empty or
    /// too large to keep mapped. Throws <see cref="FileNotFoundException"/> when nothing is there.
    /// </summary>
    public MappedBody? Lease(string path)
    {
        if (!NativeFile.TryGetIdentity(path, out var identity))
        {
            throw new FileNotFoundException($"{path} is gone", path);
        }

        lock (_byPath)
        {
            if (_byPath.TryGetValue(path, out var known) && known.Identity == identity)
            {
                Touch(known);
                return known;
            }
        }

        if (identity.Length == 0 || identity.Length > _byteBudget / 4)
        {
            return null;
        }

        var body = MappedBody.Map(this, path);
        if (body is null)
        {
            return null;
        }

        lock (_byPath)
        {
            if (_byPath.Remove(path, out var previous))
            {
                Drop(previous);
            }

            _byPath[path] = body;
            body.Node = _recent.AddFirst(body);
            _mappedBytes += body.Length;
            body.Leases = 1;
            body.LastLeased = _clock.GetTimestamp();
            while ((_mappedBytes > _byteBudget || _byPath.Count > _countBudget) && _recent.Last!.Value != body)
            {
                var oldest = _recent.Last.Value;
                _byPath.Remove(oldest.Path);
                Drop(oldest);
            }

            _sweeper ??= _clock.CreateTimer(_ => Sweep(), null, s_sweepEvery, s_sweepEvery);
        }

        return body;
    }

    /// <summary>Lets go of mappings not leased for the idle time; stops sweeping when none is left.</summary>
    internal void Sweep()
    {
        lock (_byPath)
        {
            var now = _clock.GetTimestamp();
            for (var node = _recent.Last; node is not null;)
            {
                var body = node.Value;
                node = node.Previous;
                if (body.Leases == 0 && _clock.GetElapsedTime(body.LastLeased, now) >= _idleAfter)
                {
                    _byPath.Remove(body.Path);
                    Drop(body);
                }
            }

            if (_byPath.Count == 0)
            {
                _sweeper?.Dispose();
                _sweeper = null;
            }
        }
    }

    internal void Release(MappedBody body)
    {
        lock (_byPath)
        {
            body.Leases--;
            body.LastLeased = _clock.GetTimestamp();
            if (body.Leases == 0 && body.Node is null)
            {
                body.Unmap();
            }
        }
    }

    private void Touch(MappedBody body)
    {
        body.Leases++;
        body.LastLeased = _clock.GetTimestamp();
        _recent.Remove(body.Node!);
        _recent.AddFirst(body.Node!);
    }

    /// <summary>Takes a body out of the kept ones; its mapping goes with its last lease.</summary>
    private void Drop(MappedBody body)
    {
        _recent.Remove(body.Node!);
        body.Node = null;
        _mappedBytes -= body.Length;
        if (body.Leases == 0)
        {
            body.Unmap();
        }
    }
}

/// <summary>One body mapped read-only into memory; a lease on it, given back by <see cref="Dispose"/>.</summary>
internal sealed unsafe class MappedBody : IDisposable
{
    private readonly MappedBodies _owner;
    private readonly MemoryMappedFile _file;
    private readonly MemoryMappedViewAccessor _view;
    private readonly byte* _start;

    private MappedBody(MappedBodies owner, string path, FileIdentity identity, MemoryMappedFile file, MemoryMappedViewAccessor view)
    {
        _owner = owner;
        Path = path;
        Identity = identity;
        _file = file;
        _view = view;
        byte* start = null;
        view.SafeMemoryMappedViewHandle.AcquirePointer(ref start);
        _start = start + view.PointerOffset;
    }

    public string Path { get; }

    /// <summary>The file that is mapped (which may no longer be the one at <see cref="Path"/>).</summary>
    public FileIdentity Identity { get; }

    public long Length => Identity.Length;

    internal int Leases { get; set; }

    internal long LastLeased { get; set; }

    internal LinkedListNode<MappedBody>? Node { get; set; }

    /// <summary>
    /// <paramref name="count"/> bytes from <paramref name="offset"/>, to hand to a socket send while the lease is held.
    /// Never read them in this process: only the kernel may touch a mapping whose file could shrink.
    /// </summary>
    public ReadOnlyMemory<byte> Window(long offset, int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(offset + count, Length);
        return new Window(_start + offset, count).Memory;
    }

    public void Dispose() => _owner.Release(this);

    /// <summary>Maps the file at <paramref name="path"/> as it is when opened; null when it is empty by then.</summary>
    internal static MappedBody? Map(MappedBodies owner, string path)
    {
        var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
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
                return new MappedBody(owner, path, identity, file, file.CreateViewAccessor(0, identity.Length, MemoryMappedFileAccess.Read));
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

    internal void Unmap()
    {
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _file.Dispose();
    }
}

/// <summary>A piece of a mapping as <see cref="Memory{T}"/>, for the socket API; it owns nothing.</summary>
internal sealed unsafe class Window(byte* start, int length) : MemoryManager<byte>
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
