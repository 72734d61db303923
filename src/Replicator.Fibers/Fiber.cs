using System.Net.Sockets;
using Replicator.Fibers.Logging;

namespace Replicator.Fibers;

/// <summary>
/// A unit of cooperative work: an async method that runs only on its loop's thread and is suspended only at the
/// wait points below. Every wait takes an inactivity timeout; when it expires the wait throws
/// <see cref="FiberTimeoutException"/> into the fiber, which may catch it. try/catch/finally and <c>using</c> work
/// around wait points as in any async method, and helpers that wait compose by plain <c>await</c>.
/// </summary>
public sealed class Fiber
{
    [ThreadStatic]
    private static Fiber? s_current;

    private static long s_lastId;

    private readonly Func<Fiber, ValueTask> _body;
    private object _name;
    private GatheredLog? _gatheredLog;
    private ValueTask _runningBody;

    /// <param name="name">A string, or an object (a remote endpoint) formatted only if the name is ever read.</param>
    /// <param name="owned">Disposed when the fiber ends (an accepted connection's socket).</param>
    internal Fiber(FiberLoop loop, object name, Func<Fiber, ValueTask> body, bool gatherLog, IDisposable? owned = null)
    {
        Loop = loop;
        _name = name;
        _body = body;
        GatherLog = gatherLog;
        Owned = owned;
        Id = Interlocked.Increment(ref s_lastId);
        Waiter = new FiberWaiter(this);
        StartTimestamp = loop.TimeProvider.GetTimestamp();
    }

    /// <summary>The fiber running on this thread now, or null outside fibers.</summary>
    public static Fiber? Current => s_current;

    /// <summary>Unique in the process; debug output shows it in hex.</summary>
    public long Id { get; }

    public string Name => _name as string ?? (string)(_name = _name.ToString() ?? string.Empty);

    public FiberLoop Loop { get; }

    /// <summary>Cancelled when the engine starts to stop: finish the current piece of work and end.</summary>
    public CancellationToken Stopping => Loop.Stopping;

    /// <summary>Elapsed time since the fiber started, by the loop's clock.</summary>
    public TimeSpan Elapsed => Loop.TimeProvider.GetElapsedTime(StartTimestamp);

    internal long StartTimestamp { get; }

    internal FiberWaiter Waiter { get; }

    /// <summary>Installed while the fiber runs: brings stray continuations back to this loop as this fiber.</summary>
    internal SynchronizationContext SynchronizationContext => Waiter;

    /// <summary>What the fiber owns and disposes when it ends, such as its connection's socket.</summary>
    internal IDisposable? Owned { get; }

    internal bool GatherLog { get; }

    internal Fiber? Previous { get; set; }

    internal Fiber? Next { get; set; }

    /// <summary>Waits until <paramref name="socket"/> has data (or end of stream, or an error) to read.</summary>
    /// <param name="interruptOnStop">End this wait as soon as the engine stops (an idle connection), not after the grace period.</param>
    public ValueTask ReadableAsync(Socket socket, TimeSpan timeout, bool interruptOnStop = false) =>
        Loop.BeginFdWait(Waiter, socket, Polling.Readiness.Readable, timeout, interruptOnStop);

    /// <summary>Waits until <paramref name="socket"/> can take more bytes (or has an error).</summary>
    public ValueTask WritableAsync(Socket socket, TimeSpan timeout, bool interruptOnStop = false) =>
        Loop.BeginFdWait(Waiter, socket, Polling.Readiness.Writable, timeout, interruptOnStop);

    /// <summary>Waits in <paramref name="direction"/> after a call on <paramref name="socket"/> said EAGAIN that way: with epoll, no system call.</summary>
    internal ValueTask DrainedAsync(Socket socket, Polling.Readiness direction, TimeSpan timeout, bool interruptOnStop = false) =>
        Loop.BeginFdWait(Waiter, socket, direction, timeout, interruptOnStop, drained: true);

    /// <summary>Sleeps for <paramref name="delay"/> by the loop's clock.</summary>
    public ValueTask SleepAsync(TimeSpan delay) => Loop.BeginSleep(Waiter, delay);

    /// <summary>Lets every other ready fiber run once (the original's WAIT 0), for use inside heavy work.</summary>
    public ValueTask YieldAsync() => Loop.BeginYield(Waiter);

    /// <summary>Waits for the next <see cref="FiberSignal.Raise"/>.</summary>
    public ValueTask WaitAsync(FiberSignal signal, TimeSpan timeout) => Loop.BeginSignalWait(Waiter, signal, signal.Generation, timeout);

    /// <summary>
    /// Waits for a raise after generation <paramref name="seenGeneration"/>; returns at once (on the next turn) if one
    /// happened already.
    /// </summary>
    public ValueTask WaitAsync(FiberSignal signal, long seenGeneration, TimeSpan timeout) =>
        Loop.BeginSignalWait(Waiter, signal, seenGeneration, timeout);

    /// <summary>
    /// Waits until <paramref name="condition"/> holds, re-checking it whenever <paramref name="signal"/> is raised.
    /// The generation is read before each check, so a raise between the check and the wait is never lost.
    /// <paramref name="timeout"/> applies to each wait, as an inactivity timeout.
    /// </summary>
    public async ValueTask WaitUntilAsync(FiberSignal signal, Func<bool> condition, TimeSpan timeout)
    {
        while (true)
        {
            var generation = signal.Generation;
            if (condition())
            {
                return;
            }

            await WaitAsync(signal, generation, timeout);
        }
    }

    /// <summary>
    /// Runs work that may block (DNS, a large disk operation) on the thread pool, and resumes the fiber on its loop
    /// with the result. If <paramref name="timeout"/> expires first, the fiber gets a timeout and the result is dropped.
    /// </summary>
    public async ValueTask<T> RunBlockingAsync<T>(Func<T> work, TimeSpan timeout)
    {
        var job = new BlockingJob<T>(work, Waiter);
        var wait = Loop.BeginBlocking(Waiter, timeout);
        ThreadPool.UnsafeQueueUserWorkItem(job, preferLocal: false);
        await wait;
        return job.Result;
    }

    public override string ToString() => $"{Id:X4} {Name}";

    internal static Fiber? Enter(Fiber? fiber)
    {
        var previous = s_current;
        s_current = fiber;
        return previous;
    }

    /// <summary>
    /// Starts the body; the loop's EndFiber runs when it has ended, however it ended. No async wrapper frame is kept
    /// per fiber: the body's own task is observed directly.
    /// </summary>
    internal void StartBody()
    {
        try
        {
#pragma warning disable CA2012 // Stored to be consumed exactly once, by ObserveBody.
            _runningBody = _body(this);
#pragma warning restore CA2012
        }
        catch (Exception e)
        {
            Loop.EndFiber(this, e);
            return;
        }

        if (_runningBody.IsCompleted)
        {
            ObserveBody();
            return;
        }

        // With the scheduling context (this fiber's, installed by the loop): an async method's task may run its
        // continuations on the thread pool, and the end of a fiber must be observed on its loop.
        _runningBody.GetAwaiter().UnsafeOnCompleted(ObserveBody);
    }

    private void ObserveBody()
    {
        Exception? error = null;
        try
        {
            _runningBody.GetAwaiter().GetResult();
        }
        catch (Exception e)
        {
            error = e;
        }

        _runningBody = default;
        Loop.EndFiber(this, error);
    }

    /// <summary>Keeps a rendered log line until the fiber ends (GatherFiber mode).</summary>
    internal void Gather(FiberLogSink sink, DateTimeOffset startedAt, string line)
    {
        _gatheredLog ??= new GatheredLog(sink, startedAt);
        _gatheredLog.Lines.Add(line);
    }

    internal void FlushGatheredLog()
    {
        if (_gatheredLog is { } log)
        {
            _gatheredLog = null;
            log.Sink.WriteBlock(this, log.StartedAt, log.Lines);
        }
    }

    private sealed record GatheredLog(FiberLogSink Sink, DateTimeOffset StartedAt)
    {
        public List<string> Lines { get; } = [];
    }

    /// <summary>Runs blocking work on the pool and completes the fiber's wait from there.</summary>
    private sealed class BlockingJob<T> : IThreadPoolWorkItem
    {
        private readonly Func<T> _work;
        private readonly FiberWaiter _waiter;
        private readonly short _token;

        public BlockingJob(Func<T> work, FiberWaiter waiter)
        {
            _work = work;
            _waiter = waiter;
            _token = waiter.Token;
        }

        public T Result { get; private set; } = default!;

        public void Execute()
        {
            Exception? error = null;
            try
            {
                Result = _work();
            }
            catch (Exception e)
            {
                error = e;
            }

            _waiter.Fiber.Loop.CompleteFromAnyThread(_waiter, _token, error);
        }
    }
}
