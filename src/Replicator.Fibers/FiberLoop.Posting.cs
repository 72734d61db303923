namespace Replicator.Fibers;

/// <summary>
/// How other threads hand work to a loop: a locked list, swapped out whole by the loop each turn, and a wake-up
/// so a blocked loop notices. Work from the loop's own thread skips the lock and goes straight to the ready queue.
/// </summary>
public sealed partial class FiberLoop
{
    private readonly object _postLock = new();
    private List<LoopWork> _posted = [];
    private List<LoopWork> _draining = [];

    /// <summary>Runs <paramref name="func"/> on the loop thread (outside any fiber) and returns its result.</summary>
    public Task<T> InvokeAsync<T>(Func<T> func)
    {
        var invocation = new Invocation<T>(func);
        Post(null, static state => ((Invocation<T>)state!).Run(), invocation);
        return invocation.Task;
    }

    /// <summary>Queues a callback to run on the loop thread, as <paramref name="fiber"/> if given.</summary>
    internal void Post(Fiber? fiber, SendOrPostCallback callback, object? state)
    {
        var work = new LoopWork(fiber, callback, state);
        if (IsLoopThread)
        {
            _ready.Enqueue(work);
        }
        else
        {
            PostWork(work);
        }
    }

    private void PostWork(LoopWork work)
    {
        lock (_postLock)
        {
            _posted.Add(work);
        }

        _waker.Wake();
    }

    private void DrainPosted()
    {
        lock (_postLock)
        {
            if (_posted.Count == 0)
            {
                return;
            }

            (_posted, _draining) = (_draining, _posted);
        }

        foreach (var work in _draining)
        {
            _ready.Enqueue(work);
        }

        _draining.Clear();
    }

    private sealed class Invocation<T>
    {
        private readonly Func<T> _func;
        private readonly TaskCompletionSource<T> _result = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Invocation(Func<T> func)
        {
            _func = func;
        }

        public Task<T> Task => _result.Task;

        public void Run()
        {
            try
            {
                _result.SetResult(_func());
            }
            catch (Exception e)
            {
                _result.SetException(e);
            }
        }
    }
}
