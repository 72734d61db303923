namespace Replicator.Fibers.Tests;

/// <summary>A loop gives its core away after a large batch of work, and only then (FiberEngineOptions.YieldAfter).</summary>
public sealed class LoopYieldTests : EngineTestBase
{
    private int _yields;

    protected override PollerKind Poller => PollerKind.Epoll;

    [Fact]
    public async Task ABatchOfAtLeastYieldAfter_Yields_AndSmallerBatchesDoNot()
    {
        var loop = Start(yieldAfter: 4).Loops[0];
        await SpawnBatchAsync(loop, 3);
        Assert.Equal(0, Volatile.Read(ref _yields));

        await SpawnBatchAsync(loop, 10);
        Assert.Equal(1, Volatile.Read(ref _yields));
    }

    [Fact]
    public async Task YieldAfterZero_NeverYields()
    {
        var loop = Start(yieldAfter: 0).Loops[0];
        await SpawnBatchAsync(loop, 50);
        Assert.Equal(0, Volatile.Read(ref _yields));
    }

    private FiberEngine Start(int yieldAfter)
    {
        var engine = Disposed(new FiberEngine(new FiberEngineOptions
        {
            LoopCount = 1,
            Poller = Poller,
            YieldAfter = yieldAfter,
            Yield = () => Interlocked.Increment(ref _yields),
            Logger = Serilog.Core.Logger.None,
        }));
        engine.Start();
        return engine;
    }

    /// <summary>
    /// Queues <paramref name="count"/> fibers in one turn (spawned from the loop itself, so that they are all ready at
    /// the start of the next) and returns once they have all run.
    /// </summary>
    private static async Task SpawnBatchAsync(FiberLoop loop, int count)
    {
        var ran = 0;
        var all = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        loop.Spawn("spawner", _ =>
        {
            for (var i = 0; i < count; i++)
            {
                loop.Spawn($"batch {i}", _ =>
                {
                    if (++ran == count)
                    {
                        all.SetResult();
                    }

                    return ValueTask.CompletedTask;
                });
            }

            return ValueTask.CompletedTask;
        });
        await all.Task.Within();
        await Barrier(loop);
    }
}
