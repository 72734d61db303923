using System.Buffers;

namespace Replicator.Fibers;

/// <summary>
/// A broadcast wake-up between fibers, on one loop or across loops: <see cref="Raise"/> wakes every fiber waiting
/// at that moment (it replaces the original engine's "WAIT None" polling; a shared download raises it when new bytes
/// land). To avoid a lost wake-up between checking a condition and waiting, read <see cref="Generation"/> first and
/// pass it to <see cref="Fiber.WaitAsync(FiberSignal, long, TimeSpan)"/>: a raise in between ends the wait at once.
/// </summary>
public sealed class FiberSignal
{
    private readonly object _lock = new();
    private readonly List<(FiberWaiter Waiter, short Token)> _waiters = [];
    private long _generation;

    /// <summary>How many times the signal has been raised.</summary>
    public long Generation => Interlocked.Read(ref _generation);

    /// <summary>Wakes every fiber that waits on this signal now. Any thread may call it.</summary>
    public void Raise()
    {
        (FiberWaiter Waiter, short Token)[] waking;
        int count;
        lock (_lock)
        {
            _generation++;
            count = _waiters.Count;
            if (count == 0)
            {
                return;
            }

            waking = ArrayPool<(FiberWaiter, short)>.Shared.Rent(count);
            _waiters.CopyTo(waking);
            _waiters.Clear();
        }

        for (var i = 0; i < count; i++)
        {
            var (waiter, token) = waking[i];
            waiter.Fiber.Loop.CompleteFromAnyThread(waiter, token, null);
        }

        Array.Clear(waking, 0, count);
        ArrayPool<(FiberWaiter, short)>.Shared.Return(waking);
    }

    /// <summary>Adds a waiter unless the signal was raised after <paramref name="seenGeneration"/>.</summary>
    internal bool TryAdd(FiberWaiter waiter, long seenGeneration)
    {
        lock (_lock)
        {
            if (_generation != seenGeneration)
            {
                return false;
            }

            _waiters.Add((waiter, waiter.Token));
            return true;
        }
    }

    internal void Remove(FiberWaiter waiter)
    {
        lock (_lock)
        {
            for (var i = 0; i < _waiters.Count; i++)
            {
                if (_waiters[i].Waiter == waiter)
                {
                    _waiters.RemoveAt(i);
                    return;
                }
            }
        }
    }
}
