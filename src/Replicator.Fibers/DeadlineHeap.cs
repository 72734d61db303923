namespace Replicator.Fibers;

/// <summary>
/// A binary min-heap of waiters ordered by deadline, intrusive (each waiter keeps its own index) so that a wait that
/// ends early leaves the heap in O(log n) instead of lingering until its deadline. A fiber has at most one wait at a
/// time, so the heap never holds more entries than there are fibers; the loop's cost per turn is the expired entries.
/// </summary>
internal sealed class DeadlineHeap
{
    private FiberWaiter[] _items = new FiberWaiter[64];

    public int Count { get; private set; }

    public FiberWaiter? Peek() => Count == 0 ? null : _items[0];

    public void Insert(FiberWaiter waiter)
    {
        if (Count == _items.Length)
        {
            Array.Resize(ref _items, _items.Length * 2);
        }

        _items[Count] = waiter;
        waiter.HeapIndex = Count;
        Count++;
        SiftUp(waiter.HeapIndex);
    }

    public void Remove(FiberWaiter waiter)
    {
        var index = waiter.HeapIndex;
        if (index < 0)
        {
            return;
        }

        waiter.HeapIndex = -1;
        Count--;
        if (index == Count)
        {
            _items[Count] = null!;
            return;
        }

        var last = _items[Count];
        _items[Count] = null!;
        _items[index] = last;
        last.HeapIndex = index;
        if (index > 0 && last.Deadline < _items[(index - 1) / 2].Deadline)
        {
            SiftUp(index);
        }
        else
        {
            SiftDown(index);
        }
    }

    private void SiftUp(int index)
    {
        var item = _items[index];
        while (index > 0)
        {
            var parent = (index - 1) / 2;
            if (_items[parent].Deadline <= item.Deadline)
            {
                break;
            }

            Place(_items[parent], index);
            index = parent;
        }

        Place(item, index);
    }

    private void SiftDown(int index)
    {
        var item = _items[index];
        while (true)
        {
            var child = (2 * index) + 1;
            if (child >= Count)
            {
                break;
            }

            if (child + 1 < Count && _items[child + 1].Deadline < _items[child].Deadline)
            {
                child++;
            }

            if (item.Deadline <= _items[child].Deadline)
            {
                break;
            }

            Place(_items[child], index);
            index = child;
        }

        Place(item, index);
    }

    private void Place(FiberWaiter item, int index)
    {
        _items[index] = item;
        item.HeapIndex = index;
    }
}
