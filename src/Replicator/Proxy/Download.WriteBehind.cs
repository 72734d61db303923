using Replicator.Cache;
using Replicator.Fibers;
using Serilog;

namespace Replicator.Proxy;

/// <summary>
/// Why a miss does not run at the disk's pace (issue 13): each piece of the body goes into the download's
/// <see cref="DownloadRing"/>, where clients on the download's loop take it at once, and the file is written behind
/// them by one write at a time on the thread pool (its writeback started there too), so neither the copy into new
/// page-cache pages nor a slow disk holds up the loop. The file holds the body up to <see cref="Written"/>; clients on
/// other loops, and any that fell behind the ring, follow the file. The ring is bounded: when it is full of bytes not
/// yet written, the download waits for the disk (memory never grows with a slow disk).
/// A write the disk refuses moves the rest of the body to a <see cref="MemoryTail"/> from <see cref="Written"/> on.
/// </summary>
internal sealed partial class Download
{
    /// <summary>Where the download's only client is (its next byte to send), while it follows the ring; -1: none.</summary>
    private long _soleReaderAt = -1;

    /// <summary>
    /// Raised when the download's only client has sent bytes from the ring, has gone, or another client joined: a
    /// pump waiting for it looks again.
    /// </summary>
    public FiberSignal Drained { get; } = new();

    /// <summary>
    /// The offset the pump may not overwrite the ring beyond (by its capacity), or null: while a download has one
    /// client and it follows the ring, the download goes at the slower of the origin and that client, and the client
    /// never falls behind the ring onto the file (which, written around the page cache, it would read from the disk).
    /// With more clients nobody holds the download up: the slow ones follow the file; nor does a client that joined
    /// behind the ring.
    /// </summary>
    private long? PacedBy => _soleReaderAt >= 0 && Clients == 1 ? _soleReaderAt : null;

    /// <summary>Raised (on the pump's loop) each time the download waits for its only client: tests see the pacing.</summary>
    public event Action? HeldByClient;

    /// <summary>True while the download waits for its only client (see <see cref="HeldByClient"/>).</summary>
    public bool IsHeldByClient { get; private set; }

    /// <summary>
    /// The only client, on the pump's loop, is at <paramref name="offset"/> (called before each send). The pump runs
    /// on the same loop, so it is either waiting for the client now (and is woken) or will read the new place when it
    /// next looks: no signal, and no lock, per piece otherwise.
    /// </summary>
    public void SoleReaderAt(long offset)
    {
        _soleReaderAt = offset;
        if (IsHeldByClient)
        {
            Drained.Raise();
        }
    }

    /// <summary>The only client stopped following the ring (done, gone, or others joined).</summary>
    public void SoleReaderGone() => SoleReaderAt(-1);

    /// <summary>The most one write takes from the ring before the bytes it wrote are made known.</summary>
    private const int WritePiece = 1 << 20;

    private DownloadRing? _ring;
    private DownloadRing? _ringMemory;
    private long _written;
    private int _writing;
    private Exception? _writeError;

    /// <summary>The ring's users: the download's fiber, and the write in flight; the last one gives its memory back.</summary>
    private int _ringUsers;

    /// <summary>The loop the body arrives on: only its fibers read <see cref="Ring"/>.</summary>
    public FiberLoop? PumpLoop { get; private set; }

    /// <summary>The latest bytes of the body while it arrives; null before and after. Read it on <see cref="PumpLoop"/> only.</summary>
    public DownloadRing? Ring => _ring;

    /// <summary>Bytes of the body in the file so far, from offset 0.</summary>
    public long Written => Interlocked.Read(ref _written);

    /// <summary>Sets up the ring for a body continuing at <paramref name="start"/>; called once, before the pump runs.</summary>
    private void StartRing(FiberLoop loop, long start)
    {
        PumpLoop = loop;
        Interlocked.Exchange(ref _written, start);
        _writebackStarted = start;
        _ring = _ringMemory = new DownloadRing(start, Length - start);
        _ringUsers = 1;
    }

    private async ValueTask Write(Fiber fiber, ReadOnlyMemory<byte> piece)
    {
        _server.Counters.CountUpstream(piece.Length);
        while (!piece.IsEmpty)
        {
            if (Tail is null && Volatile.Read(ref _writeError) is { } refused && Volatile.Read(ref _writing) == 0)
            {
                SpillToMemory(refused);
            }

            if (Tail is { } tail)
            {
                tail.Append(Available, piece.Span);
                Interlocked.Add(ref _available, piece.Length);
                break;
            }

            var ring = _ring!;
            var drained = Drained.Generation;
            var diskRoom = ring.Capacity - (ring.End - Written);
            var readerRoom = PacedBy is { } reader && reader >= ring.Floor ? ring.Capacity - (ring.End - reader) : long.MaxValue;
            var room = (int)Math.Max(0, Math.Min(piece.Length, Math.Min(diskRoom, readerRoom)));
            if (room == 0 && diskRoom == 0)
            {
                // The ring is full of bytes the disk has not taken yet: wait for it.
                var generation = Progress.Generation;
                StartWrite();
                if (ring.Capacity - (ring.End - Written) == 0 && Volatile.Read(ref _writing) != 0)
                {
                    await fiber.WaitAsync(Progress, generation, Timeout.InfiniteTimeSpan);
                }

                continue;
            }

            if (room == 0)
            {
                // The download's only client has not sent these bytes yet: wait for it, as a direct download would.
                IsHeldByClient = true;
                HeldByClient?.Invoke();
                await fiber.WaitAsync(Drained, drained, Timeout.InfiniteTimeSpan);
                IsHeldByClient = false;
                continue;
            }

            ring.Append(piece.Span[..room]);
            Interlocked.Add(ref _available, room);
            piece = piece[room..];
        }

        StartWrite();
        Progress.Raise();
    }

    /// <summary>Starts writing what the ring holds beyond <see cref="Written"/>, unless a write is in flight (it takes that too).</summary>
    private void StartWrite()
    {
        var ring = _ringMemory;
        if (ring is null || Tail is not null || Volatile.Read(ref _writeError) is not null || ring.End == Written)
        {
            return;
        }

        if (Interlocked.CompareExchange(ref _writing, 1, 0) == 0)
        {
            Interlocked.Increment(ref _ringUsers);
            ThreadPool.UnsafeQueueUserWorkItem(static state => state.Download.WriteBehind(state.Ring), (Download: this, Ring: ring), preferLocal: false);
        }
    }

    /// <summary>
    /// On the thread pool: writes the ring into the file until it has caught up with the bytes received, letting the
    /// loop know after each run (readers of the file, and a download waiting for room).
    /// </summary>
    private void WriteBehind(DownloadRing ring)
    {
        try
        {
            do
            {
                for (long from = Written, to = ring.End; from < to; from = Written, to = ring.End)
                {
                    // A piece at a time, each made known at once: the download refills the ring behind the write,
                    // instead of waiting for a whole ring's worth to be written.
                    var first = ring.Read(from, Math.Min(to - from, WritePiece));
                    _partial!.Write(from, first.Span);
                    var written = from + first.Length;
                    if (written - _writebackStarted >= WritebackStep)
                    {
                        _partial.StartWriteback(_writebackStarted, written - _writebackStarted);
                        _writebackStarted = written;
                    }

                    Interlocked.Exchange(ref _written, written);
                    Progress.Raise();
                }

                Volatile.Write(ref _writing, 0);
            }
            // Bytes appended just as this write was ending found it still in flight: take them too.
            while (ring.End != Written && Interlocked.CompareExchange(ref _writing, 1, 0) == 0);
        }
        catch (Exception e)
        {
            Volatile.Write(ref _writeError, e);
            Volatile.Write(ref _writing, 0);
        }
        finally
        {
            ReleaseRing();
            Progress.Raise();
        }
    }

    /// <summary>
    /// Waits until the file holds every byte received (or the disk refused one). With <paramref name="spill"/>, a
    /// refusal moves the rest to memory; without, the file simply holds what it could take.
    /// </summary>
    private async ValueTask FlushAsync(Fiber fiber, bool spill = true)
    {
        while (Tail is null)
        {
            var generation = Progress.Generation;
            StartWrite();
            if (Volatile.Read(ref _writing) == 0)
            {
                if (Volatile.Read(ref _writeError) is not { } refused || !spill)
                {
                    return;
                }

                SpillToMemory(refused);
                return;
            }

            await fiber.WaitAsync(Progress, generation, Timeout.InfiniteTimeSpan);
        }
    }

    /// <summary>The download's fiber lets go of the ring: readers find it gone, and its memory goes back once no write uses it.</summary>
    private void EndRing()
    {
        if (_ring is not null)
        {
            _ring = null;
            ReleaseRing();
        }
    }

    private void ReleaseRing()
    {
        if (Interlocked.Decrement(ref _ringUsers) == 0)
        {
            Interlocked.Exchange(ref _ringMemory, null)?.GiveBack();
        }
    }

    /// <summary>
    /// The disk refused a write: the rest of the body (from what the file holds on) goes to memory for the clients
    /// following it; the partial leaves the tree (its blocks are freed once the last reader lets go), and so do the
    /// partials nobody resumes. Only with no write in flight.
    /// </summary>
    private void SpillToMemory(Exception error)
    {
        var store = _server.Store;
        store.Health.Failed($"writing {Url}", error);
        store.Discard(_partial!);
        var freed = store.DeleteAbandonedPartials(path => _server.Downloads.Find(path) is not null);
        if (freed > 0)
        {
            Log.Warning("Deleted {Bytes} bytes of abandoned partial downloads to free space", freed);
        }

        var written = Written;
        var tail = new MemoryTail(written);
        var ring = _ring!;
        for (var offset = written; offset < ring.End;)
        {
            var run = ring.Read(offset, ring.End - offset);
            tail.Append(offset, run.Span);
            offset += run.Length;
        }

        Volatile.Write(ref _tail, tail);
    }
}
