namespace Replicator.Cache;

/// <summary>
/// Why a queue: commits that arrive while the disk is flushing others wait and go together in the next batch (one
/// flush for all, see CacheStore.Commit.cs), so the more bodies complete at once, the fewer flushes each costs, and
/// a lone commit waits for nothing but its own. One worker drains the queue, batch after batch, on the thread pool,
/// and ends when the queue is empty: commits hold no thread while they wait, and an idle store holds none at all.
/// </summary>
internal sealed class GroupCommit(Action<IReadOnlyList<PendingCommit>> commitBatch)
{
    private readonly Lock _gate = new();
    private List<PendingCommit> _queue = [];
    private bool _draining;

    public void Enqueue(PendingCommit pending)
    {
        lock (_gate)
        {
            _queue.Add(pending);
            if (_draining)
            {
                return;
            }

            _draining = true;
        }

        ThreadPool.UnsafeQueueUserWorkItem(static self => self.Drain(), this, preferLocal: false);
    }

    private void Drain()
    {
        while (true)
        {
            List<PendingCommit> batch;
            lock (_gate)
            {
                if (_queue.Count == 0)
                {
                    _draining = false;
                    return;
                }

                batch = _queue;
                _queue = [];
            }

            try
            {
                commitBatch(batch);
            }
            catch (Exception e)
            {
                // Not a storage failure of one body (those complete their own commit): nothing of the batch is known.
                foreach (var pending in batch)
                {
                    pending.Done.TrySetException(e);
                }
            }
        }
    }
}
