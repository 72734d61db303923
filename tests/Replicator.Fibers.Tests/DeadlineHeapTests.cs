namespace Replicator.Fibers.Tests;

public class DeadlineHeapTests
{
    [Fact]
    public void Heap_RandomInsertsAndRemovals_AlwaysYieldsTheEarliestDeadline()
    {
        var random = new Random(1234);
        var heap = new DeadlineHeap();
        var present = new List<FiberWaiter>();
        for (var step = 0; step < 5000; step++)
        {
            if (present.Count > 0 && random.Next(3) == 0)
            {
                var victim = present[random.Next(present.Count)];
                heap.Remove(victim);
                present.Remove(victim);
                Assert.Equal(-1, victim.HeapIndex);
            }
            else
            {
                var waiter = NewWaiter(random.Next(1000));
                heap.Insert(waiter);
                present.Add(waiter);
            }

            Assert.Equal(present.Count, heap.Count);
            Assert.Equal(present.Count == 0 ? null : present.Min(w => w.Deadline), heap.Peek()?.Deadline);
        }

        var drained = new List<long>();
        while (heap.Peek() is { } top)
        {
            heap.Remove(top);
            drained.Add(top.Deadline);
        }

        Assert.Equal(present.Select(w => w.Deadline).Order(), drained);
    }

    [Fact]
    public void Remove_AWaiterNotInTheHeap_ChangesNothing()
    {
        var heap = new DeadlineHeap();
        var inside = NewWaiter(5);
        heap.Insert(inside);

        heap.Remove(NewWaiter(1));

        Assert.Equal(1, heap.Count);
        Assert.Same(inside, heap.Peek());
    }

    private static FiberWaiter NewWaiter(long deadline)
    {
        var fiber = new Fiber(LoopStub.Instance, "heap test", _ => ValueTask.CompletedTask, gatherLog: false);
        return new FiberWaiter(fiber) { Deadline = deadline };
    }
}

/// <summary>A loop that is never started, for unit tests that only need fibers to exist.</summary>
internal static class LoopStub
{
    public static FiberLoop Instance { get; } = new FiberEngine(new FiberEngineOptions { LoopCount = 1, Logger = Serilog.Core.Logger.None }).Loops[0];
}
