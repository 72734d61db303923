using System.Net.Sockets;

namespace Replicator.Fibers.Tests;

/// <summary>What every engine test suite shares: engines and sockets disposed after the test, and the loop barrier.</summary>
public abstract class EngineTestBase : IDisposable
{
    /// <summary>A wait that only a broken engine reaches.</summary>
    protected static readonly TimeSpan LongWait = TimeSpan.FromMinutes(5);

    private readonly List<IDisposable> _disposables = [];

    protected abstract PollerKind Poller { get; }

    public void Dispose()
    {
        _disposables.Reverse();
        _disposables.ForEach(d => d.Dispose());
        GC.SuppressFinalize(this);
    }

    /// <summary>Returns once the loop has run everything queued before this call (a fiber that ran has reached its wait).</summary>
    protected static Task Barrier(FiberLoop loop) => loop.InvokeAsync(() => 0).Within();

    protected static async ValueTask EchoAsync(Fiber fiber, Socket client)
    {
        var buffer = new byte[4096];
        while (true)
        {
            var n = await fiber.ReceiveAsync(client, buffer, LongWait, interruptOnStop: true);
            if (n == 0)
            {
                return;
            }

            await fiber.SendAsync(client, buffer.AsMemory(0, n), LongWait);
        }
    }

    protected T Disposed<T>(T disposable)
        where T : IDisposable
    {
        _disposables.Add(disposable);
        return disposable;
    }

    protected (Socket FiberEnd, Socket TestEnd) Pair()
    {
        var pair = TestSockets.Pair();
        _disposables.Add(pair.FiberEnd);
        _disposables.Add(pair.TestEnd);
        return pair;
    }

    protected FiberEngine StartEngine(TimeProvider? clock = null, int loops = 2, ListenerDistribution distribution = ListenerDistribution.ReusePort, Serilog.ILogger? logger = null)
    {
        var engine = new FiberEngine(new FiberEngineOptions
        {
            LoopCount = loops,
            Poller = Poller,
            Distribution = distribution,
            TimeProvider = clock ?? TimeProvider.System,
            Logger = logger ?? Serilog.Core.Logger.None,
        });
        _disposables.Add(engine);
        engine.Start();
        return engine;
    }

    protected sealed class Disposal(Action action) : IDisposable
    {
        public void Dispose() => action();
    }
}
