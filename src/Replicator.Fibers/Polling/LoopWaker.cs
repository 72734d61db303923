using static Replicator.Fibers.Polling.Interop;

namespace Replicator.Fibers.Polling;

/// <summary>
/// An eventfd that another thread writes to end the loop's poll early (a posted continuation, a stop request, a
/// finished blocking job). Writes are skipped while the loop is known to be running, so a busy loop costs nothing.
/// </summary>
internal sealed unsafe class LoopWaker : IDisposable
{
    private const int Running = 0;
    private const int Blocked = 1;
    private const int Woken = 2;

    private int _state;
    private int _disposed;

    public LoopWaker()
    {
        Fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (Fd < 0)
        {
            throw Error("eventfd");
        }
    }

    public int Fd { get; }

    /// <summary>Called by the loop before it blocks; returns false if a wake-up came in since the last turn.</summary>
    public bool PrepareToBlock() => Interlocked.CompareExchange(ref _state, Blocked, Running) == Running;

    /// <summary>Called by the loop after it woke.</summary>
    public void Awake() => Volatile.Write(ref _state, Running);

    /// <summary>Any thread: make sure the loop runs another turn soon.</summary>
    public void Wake()
    {
        var previous = Interlocked.Exchange(ref _state, Woken);
        if (previous == Blocked)
        {
            ulong one = 1;
            write(Fd, (byte*)&one, sizeof(ulong));
        }
    }

    /// <summary>Resets the counter after the poller reported the descriptor readable.</summary>
    public void Drain()
    {
        ulong value;
        read(Fd, (byte*)&value, sizeof(ulong));
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            close(Fd);
        }
    }
}
