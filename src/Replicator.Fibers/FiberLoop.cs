using Replicator.Fibers.Polling;
using Serilog;

namespace Replicator.Fibers;

/// <summary>
/// One scheduler thread: it runs fibers, waits for socket readiness, timers and wake-ups, and never blocks in
/// between. A fiber is created on one loop and stays there; other threads talk to a loop only by posting work.
///
/// One turn of the loop:
///   (1) move work posted by other threads into the ready queue;
///   (2) run the ready queue as it stood at the start of the step (work queued meanwhile waits a turn, so a fiber
///       that yields cannot starve sockets); after a large batch, give the core to any other runnable thread
///       (<see cref="FiberEngineOptions.YieldAfter"/>);
///   (3) block in the poller until the earliest deadline (not at all if work is ready, forever if nothing waits);
///   (4) queue the fibers whose sockets became ready;
///   (5) queue the fibers whose deadlines passed, with a timeout.
/// Its cost grows with the ready sockets and expired timers, not with the number of fibers.
/// </summary>
public sealed partial class FiberLoop : IDisposable
{
    private readonly Poller _poller;
    private readonly LoopWaker _waker = new();
    private readonly DeadlineHeap _deadlines = new();
    private readonly Queue<LoopWork> _ready = new();
    private readonly List<(FdState State, Readiness Events)> _events = [];
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ILogger _logger;
    private readonly int _yieldAfter;
    private readonly Action _yield;
    private FdState?[] _fdStates = new FdState?[1024];
    private Thread? _thread;
    private Fiber? _firstFiber;
    private bool _exiting;
    private int _disposed;

    internal FiberLoop(int index, FiberEngineOptions options)
    {
        Index = index;
        TimeProvider = options.TimeProvider;
        _logger = (options.Logger ?? Log.Logger).ForContext<FiberLoop>();
        _yieldAfter = options.YieldAfter;
        _yield = options.Yield;
        _poller = Poller.Create(options.Poller, _waker.Fd, LookupFd);
        if (TimeProvider != TimeProvider.System)
        {
            // A clock that can jump (a test's fake clock) cannot be trusted to match the poller's own timeout, so a
            // timer of that clock wakes the loop at the earliest deadline.
            _clockTimer = TimeProvider.CreateTimer(static state => ((LoopWaker)state!).Wake(), _waker, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        }
    }

    public int Index { get; }

    public TimeProvider TimeProvider { get; }

    /// <summary>Number of fibers started on this loop that have not ended.</summary>
    public int FiberCount { get; private set; }

    /// <summary>Completes when the loop thread has ended.</summary>
    public Task Completion => _completion.Task;

    public bool IsLoopThread => Thread.CurrentThread == _thread;

    /// <summary>
    /// Starts a fiber on this loop. Any thread may call it; the body runs on the loop thread from its first line.
    /// </summary>
    /// <param name="gatherLog">Gather the fiber's log lines into one block written when it ends (false for long-lived fibers such as listeners).</param>
    public Fiber Spawn(string name, Func<Fiber, ValueTask> body, bool gatherLog = true) => Spawn((object)name, body, gatherLog, owned: null);

    internal Fiber Spawn(object name, Func<Fiber, ValueTask> body, bool gatherLog, IDisposable? owned)
    {
        var fiber = new Fiber(this, name, body, gatherLog, owned);
        var start = new LoopWork(LoopWorkKind.Start, fiber);
        if (IsLoopThread)
        {
            _ready.Enqueue(start);
        }
        else
        {
            PostWork(start);
        }

        return fiber;
    }

    /// <summary>Runs the loop on a new thread.</summary>
    public void Start()
    {
        var thread = new Thread(Run) { IsBackground = true, Name = $"fiber-loop-{Index}" };
        _thread = thread;
        thread.Start();
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _clockTimer?.Dispose();
            _poller.Dispose();
            _waker.Dispose();
            _stopping.Dispose();
        }
    }

    private void Run()
    {
        try
        {
            while (true)
            {
                DrainPosted();
                var batch = _ready.Count;
                RunReady();
                if (_yieldAfter > 0 && batch >= _yieldAfter)
                {
                    _yield();
                }

                if (_exiting)
                {
                    break;
                }

                var timeout = NextTimeoutMs();
                if (!_waker.PrepareToBlock())
                {
                    timeout = 0;
                }

                var woke = _poller.Wait(timeout, _events);
                _waker.Awake();
                if (woke)
                {
                    _waker.Drain();
                }

                DispatchEvents();
                ExpireDeadlines();
            }
        }
        catch (Exception e)
        {
            // The loop never dies quietly: a failure here means the engine's own state is broken.
            _logger.Fatal(e, "Fiber loop {Loop} failed", Index);
            Environment.FailFast($"fiber loop {Index} failed: {e}");
        }

        _completion.TrySetResult();
    }

    private void RunReady()
    {
        for (var count = _ready.Count; count > 0; count--)
        {
            var work = _ready.Dequeue();
            if (work.Kind == LoopWorkKind.Complete)
            {
                // A completion posted by another thread, or queued for later by this one: apply it if still current.
                var waiter = work.Waiter!;
                if (waiter.Token != work.Token || !waiter.IsPending)
                {
                    continue;
                }

                Finish(waiter, work.Error);
            }

            var previous = Fiber.Enter(work.Fiber);
            SynchronizationContext.SetSynchronizationContext(work.Fiber?.SynchronizationContext);
            try
            {
                work.Run(this);
            }
            catch (Exception e)
            {
                _logger.Error(e, "Work on fiber loop {Loop} failed", Index);
            }
            finally
            {
                Fiber.Enter(previous);
                SynchronizationContext.SetSynchronizationContext(null);
            }
        }
    }

    private void DispatchEvents()
    {
        foreach (var (state, events) in _events)
        {
            if ((events & Readiness.Readable) != 0 && state.Reader is { } reader)
            {
                CompleteWait(reader, null);
            }

            if ((events & Readiness.Writable) != 0 && state.Writer is { } writer)
            {
                CompleteWait(writer, null);
            }

            // A one-shot backend's event disarmed the descriptor; a fiber still waiting the other way needs it armed again.
            if (state.Wanted != Readiness.None && state.Armed == Readiness.None)
            {
                Arm(state);
            }
        }

        _events.Clear();
    }

    internal void StartFiber(Fiber fiber)
    {
        fiber.Next = _firstFiber;
        if (_firstFiber is not null)
        {
            _firstFiber.Previous = fiber;
        }

        _firstFiber = fiber;
        FiberCount++;
        fiber.StartBody();
    }

    internal void EndFiber(Fiber fiber, Exception? error)
    {
        if (error is FiberStoppedException && _stopping.IsCancellationRequested)
        {
            _logger.Debug("Fiber {Fiber:l} stopped with the engine", fiber.ToString());
        }
        else if (error is not null)
        {
            // An unhandled exception ends this fiber only; the others run on.
            _logger.Error(error, "Fiber {Fiber:l} failed: {Message:l}", fiber.ToString(), error.Message);
        }

        try
        {
            fiber.Owned?.Dispose();
        }
        catch (Exception e)
        {
            _logger.Error(e, "Disposing what fiber {Fiber:l} owned failed", fiber.ToString());
        }

        if (fiber.Previous is null)
        {
            _firstFiber = fiber.Next;
        }
        else
        {
            fiber.Previous.Next = fiber.Next;
        }

        if (fiber.Next is not null)
        {
            fiber.Next.Previous = fiber.Previous;
        }

        fiber.Previous = fiber.Next = null;
        FiberCount--;
        fiber.FlushGatheredLog();
        if (FiberCount == 0 && _stopping.IsCancellationRequested)
        {
            _exiting = true;
        }
    }

    /// <summary>How often this loop has armed a descriptor (a system call with epoll): the tests' measure of waits that needed none.</summary>
    internal long Arms { get; private set; }

    private void Arm(FdState state)
    {
        Arms++;
        _poller.Arm(state);
    }

    private FdState? LookupFd(int fd) => (uint)fd < (uint)_fdStates.Length ? _fdStates[fd] : null;

    private FdState GetFdState(int fd)
    {
        if (fd >= _fdStates.Length)
        {
            Array.Resize(ref _fdStates, Math.Max(fd + 1, _fdStates.Length * 2));
        }

        return _fdStates[fd] ??= new FdState(fd);
    }
}
