using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Time.Testing;

namespace Replicator.Fibers.Tests;

/// <summary>The engine's behaviour, written once and run over every poller backend (see the sealed subclasses).</summary>
public abstract class EngineTests : EngineTestBase
{

    [Fact]
    public async Task ReadableAsync_DataArrives_ResumesTheFiber()
    {
        var engine = StartEngine();
        var (fiberEnd, testEnd) = Pair();
        var received = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        engine.Spawn("reader", async fiber =>
        {
            var buffer = new byte[16];
            var n = await fiber.ReceiveAsync(fiberEnd, buffer, LongWait);
            received.SetResult(Encoding.ASCII.GetString(buffer, 0, n));
        });

        testEnd.Send("ping"u8);

        Assert.Equal("ping", await received.Task.Within());
    }

    [Fact]
    public async Task ReadableAsync_NothingArrivesBeforeTheTimeout_ThrowsTimeoutIntoTheFiber()
    {
        var clock = new FakeTimeProvider();
        var engine = StartEngine(clock);
        var (fiberEnd, _) = Pair();
        var waiting = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var outcome = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var fiberLoop = engine.Spawn("reader", async fiber =>
        {
            waiting.SetResult();
            try
            {
                await fiber.ReadableAsync(fiberEnd, TimeSpan.FromSeconds(5));
                outcome.SetResult("readable");
            }
            catch (FiberTimeoutException e)
            {
                outcome.SetResult(e.Message);
            }
        }).Loop;
        await waiting.Task.Within();
        await Barrier(fiberLoop);

        clock.Advance(TimeSpan.FromSeconds(4.9));
        await Barrier(fiberLoop);
        Assert.False(outcome.Task.IsCompleted);

        clock.Advance(TimeSpan.FromSeconds(0.1));
        Assert.Equal("timed out after 5 s waiting to receive", await outcome.Task.Within());
    }

    [Fact]
    public async Task WritableAsync_SendBufferFull_ResumesWhenThePeerReads()
    {
        var engine = StartEngine();
        var (fiberEnd, testEnd) = Pair();
        fiberEnd.Blocking = false; // this test fills the buffer with .NET's own Send, which must not block
        var filled = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        var resumed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        engine.Spawn("writer", async fiber =>
        {
            filled.SetResult(TestSockets.FillSendBuffer(fiberEnd));
            await fiber.WritableAsync(fiberEnd, LongWait);
            resumed.SetResult();
        });

        var total = await filled.Task.Within();
        Assert.False(resumed.Task.IsCompleted);
        TestSockets.ReceiveExactly(testEnd, (int)total);

        await resumed.Task.Within();
    }

    [Fact]
    public async Task SleepAsync_ClockAdvancedPastTheDelay_ResumesTheFiber()
    {
        var clock = new FakeTimeProvider();
        var engine = StartEngine(clock);
        var slept = new TaskCompletionSource<TimeSpan>(TaskCreationOptions.RunContinuationsAsynchronously);
        var loop = engine.Spawn("sleeper", async fiber =>
        {
            await fiber.SleepAsync(TimeSpan.FromMinutes(1));
            slept.SetResult(fiber.Elapsed);
        }).Loop;
        await Barrier(loop);

        clock.Advance(TimeSpan.FromSeconds(59));
        await Barrier(loop);
        Assert.False(slept.Task.IsCompleted);

        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(TimeSpan.FromMinutes(1), await slept.Task.Within());
    }

    [Fact]
    public async Task YieldAsync_TwoFibersOnOneLoop_TakeTurns()
    {
        var engine = StartEngine(loops: 1);
        var order = new List<string>();
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var loop = engine.Loops[0];
        await loop.InvokeAsync(() =>
        {
            foreach (var name in (string[])["a", "b"])
            {
                loop.Spawn(name, async fiber =>
                {
                    for (var i = 1; i <= 3; i++)
                    {
                        order.Add(fiber.Name + i);
                        await fiber.YieldAsync();
                    }

                    if (fiber.Name == "b")
                    {
                        done.SetResult();
                    }
                });
            }

            return 0;
        });

        await done.Task.Within();
        Assert.Equal(["a1", "b1", "a2", "b2", "a3", "b3"], order);
    }

    [Fact]
    public async Task Signal_Raised_WakesEveryWaiter()
    {
        var engine = StartEngine(loops: 1);
        var signal = new FiberSignal();
        var woken = 0;
        var allWaiting = new CountdownEvent(3);
        var allWoken = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        for (var i = 0; i < 3; i++)
        {
            engine.Spawn($"waiter {i}", async fiber =>
            {
                var wait = fiber.WaitAsync(signal, LongWait);
                allWaiting.Signal();
                await wait;
                if (Interlocked.Increment(ref woken) == 3)
                {
                    allWoken.SetResult();
                }
            });
        }

        await Task.Run(() => allWaiting.Wait(TimeSpan.FromSeconds(20))).Within();
        Assert.Equal(0, woken);
        signal.Raise();

        await allWoken.Task.Within();
        Assert.Equal(1, signal.Generation);
    }

    [Fact]
    public async Task Signal_RaisedByAFiberOnAnotherLoop_WakesTheWaiter()
    {
        var engine = StartEngine(loops: 2);
        var signal = new FiberSignal();
        var waiting = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var woken = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        engine.Loops[0].Spawn("waiter", async fiber =>
        {
            var wait = fiber.WaitAsync(signal, LongWait);
            waiting.SetResult();
            await wait;
            woken.SetResult(Environment.CurrentManagedThreadId);
        });
        await waiting.Task.Within();
        var waiterThread = await engine.Loops[0].InvokeAsync(() => Environment.CurrentManagedThreadId);

        engine.Loops[1].Spawn("raiser", fiber =>
        {
            signal.Raise();
            return ValueTask.CompletedTask;
        });

        Assert.Equal(waiterThread, await woken.Task.Within());
    }

    [Fact]
    public async Task Signal_RaisedBetweenCheckAndWait_IsNotLost()
    {
        var engine = StartEngine(loops: 1);
        var signal = new FiberSignal();
        var seen = signal.Generation;
        signal.Raise();
        var woken = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        engine.Spawn("late waiter", async fiber =>
        {
            await fiber.WaitAsync(signal, seen, LongWait);
            woken.SetResult();
        });

        await woken.Task.Within();
    }

    [Fact]
    public async Task WaitUntilAsync_ReturnsOnlyOnceTheConditionHolds()
    {
        var engine = StartEngine(loops: 1);
        var signal = new FiberSignal();
        var ready = false;
        var waiting = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var loop = engine.Spawn("waiter", async fiber =>
        {
            var wait = fiber.WaitUntilAsync(signal, () => ready, LongWait);
            waiting.SetResult();
            await wait;
            done.SetResult();
        }).Loop;
        await waiting.Task.Within();

        signal.Raise();
        await Barrier(loop);
        await Barrier(loop);
        Assert.False(done.Task.IsCompleted);

        await loop.InvokeAsync(() => ready = true);
        signal.Raise();
        await done.Task.Within();
    }

    [Fact]
    public async Task Signal_NeverRaised_TimesOut()
    {
        var clock = new FakeTimeProvider();
        var engine = StartEngine(clock, loops: 1);
        var signal = new FiberSignal();
        var outcome = new TaskCompletionSource<Exception>(TaskCreationOptions.RunContinuationsAsynchronously);
        engine.Spawn("waiter", async fiber =>
        {
            try
            {
                await fiber.WaitAsync(signal, TimeSpan.FromSeconds(3));
            }
            catch (Exception e)
            {
                outcome.SetResult(e);
            }
        });
        await Barrier(engine.Loops[0]);

        clock.Advance(TimeSpan.FromSeconds(3));

        Assert.IsType<FiberTimeoutException>(await outcome.Task.Within());
        signal.Raise(); // the timed-out waiter is gone from the signal: raising must not touch it
    }

    [Fact]
    public async Task UnhandledException_EndsOnlyThatFiber_AndIsLoggedWithItsIdentity()
    {
        using var log = new CapturingLog();
        var engine = StartEngine(loops: 1, logger: log.Logger);
        var survivor = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var failing = engine.Spawn("doomed", async fiber =>
        {
            await fiber.YieldAsync();
            throw new InvalidOperationException("boom");
        });
        engine.Spawn("survivor", async fiber =>
        {
            for (var i = 0; i < 5; i++)
            {
                await fiber.YieldAsync();
            }

            survivor.SetResult();
        });

        await survivor.Task.Within();
        await Barrier(engine.Loops[0]);
        var line = Assert.Single(log.Lines, l => l.Contains("boom", StringComparison.Ordinal));
        Assert.Contains(failing.ToString(), line, StringComparison.Ordinal);
        Assert.Equal(0, await engine.Loops[0].InvokeAsync(() => engine.Loops[0].FiberCount));
    }

    [Fact]
    public async Task FinallyAndUsing_AroundAWaitThatTimesOut_BothRun()
    {
        var clock = new FakeTimeProvider();
        var engine = StartEngine(clock, loops: 1);
        var (fiberEnd, _) = Pair();
        var events = new List<string>();
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        engine.Spawn("cleanup", async fiber =>
        {
            try
            {
                using (new Disposal(() => events.Add("disposed")))
                {
                    try
                    {
                        await fiber.ReadableAsync(fiberEnd, TimeSpan.FromSeconds(1));
                    }
                    finally
                    {
                        events.Add("finally");
                    }
                }
            }
            catch (FiberTimeoutException)
            {
                events.Add("caught");
            }

            done.SetResult();
        });
        await Barrier(engine.Loops[0]);

        clock.Advance(TimeSpan.FromSeconds(1));

        await done.Task.Within();
        Assert.Equal(["finally", "disposed", "caught"], events);
    }

    [Fact]
    public async Task Listener_ThousandConcurrentConnections_AreAllServed()
    {
        const int Connections = 1000;
        var engine = StartEngine();
        var endpoint = engine.Listen(new IPEndPoint(IPAddress.Loopback, 0), EchoAsync);

        var clients = new List<Socket>();
        try
        {
            for (var i = 0; i < Connections; i++)
            {
                var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                clients.Add(client);
                await client.ConnectAsync(endpoint);
            }

            // Every connection is open at once before any is answered: 1,000 fibers wait side by side.
            await Task.WhenAll(clients.Select(async (client, i) =>
            {
                var message = Encoding.ASCII.GetBytes($"message {i}");
                await client.SendAsync(message);
                var echo = new byte[message.Length];
                var read = 0;
                while (read < echo.Length)
                {
                    read += await client.ReceiveAsync(echo.AsMemory(read));
                }

                Assert.Equal(message, echo);
            })).Within(60);
        }
        finally
        {
            clients.ForEach(c => c.Dispose());
        }
    }

    [Fact]
    public async Task Listen_IPv4AndIPv6OnOnePort_BothAccept()
    {
        var engine = StartEngine();
        var v4 = engine.Listen(new IPEndPoint(IPAddress.Loopback, 0), EchoAsync);
        var v6 = engine.Listen(new IPEndPoint(IPAddress.IPv6Loopback, v4.Port), EchoAsync);

        Assert.Equal("ok4", await EchoThroughAsync(v4, "ok4"));
        Assert.Equal("ok6", await EchoThroughAsync(v6, "ok6"));
    }

    [Theory]
    [InlineData(ListenerDistribution.ReusePort)]
    [InlineData(ListenerDistribution.HandOff)]
    public async Task Listen_TwoLoops_ConnectionsReachBothLoopsAndStayOnTheirThread(ListenerDistribution distribution)
    {
        var engine = StartEngine(loops: 2, distribution: distribution);
        var threadsByLoop = new System.Collections.Concurrent.ConcurrentDictionary<int, int>();
        var moved = 0;
        var endpoint = engine.Listen(new IPEndPoint(IPAddress.Loopback, 0), async (fiber, client) =>
        {
            var thread = Environment.CurrentManagedThreadId;
            threadsByLoop.TryAdd(fiber.Loop.Index, thread);
            await EchoAsync(fiber, client);
            if (Environment.CurrentManagedThreadId != thread || threadsByLoop[fiber.Loop.Index] != thread)
            {
                Interlocked.Increment(ref moved);
            }
        });

        // With 64 connections the chance that the kernel's hash puts every one on the same loop is 2^-63.
        for (var i = 0; i < 64; i++)
        {
            Assert.Equal("x", await EchoThroughAsync(endpoint, "x"));
        }

        await engine.StopAsync(TimeSpan.FromSeconds(10)).Within();
        Assert.Equal(2, threadsByLoop.Count);
        Assert.Equal(0, moved);
    }

    [Fact]
    public async Task Stop_ListenersAndIdleConnections_CloseAtOnceAndTheLoopsEnd()
    {
        var engine = StartEngine();
        var cleanedUp = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var accepted = new TaskCompletionSource<FiberLoop>(TaskCreationOptions.RunContinuationsAsynchronously);
        var endpoint = engine.Listen(new IPEndPoint(IPAddress.Loopback, 0), async (fiber, client) =>
        {
            try
            {
                var wait = fiber.ReadableAsync(client, LongWait, interruptOnStop: true);
                accepted.SetResult(fiber.Loop);
                await wait;
            }
            finally
            {
                cleanedUp.SetResult();
            }
        });
        using var idle = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await idle.ConnectAsync(endpoint);
        // The handshake completes in the kernel; wait until the engine has taken the connection and its fiber waits.
        await Barrier(await accepted.Task.Within());

        // The grace period is long: only the interruptible waits can let the loops end quickly.
        await engine.StopAsync(TimeSpan.FromHours(1)).Within();

        await cleanedUp.Task.Within();
        using var late = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        var refused = await Assert.ThrowsAsync<SocketException>(async () => await late.ConnectAsync(endpoint));
        Assert.Equal(SocketError.ConnectionRefused, refused.SocketErrorCode);
        Assert.Equal(0, idle.Receive(new byte[1]));
    }

    [Fact]
    public async Task Stop_BusyFiber_FinishesWithinTheGracePeriodThenIsInterrupted()
    {
        var clock = new FakeTimeProvider();
        var engine = StartEngine(clock, loops: 1);
        var stoppingSeen = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        var outcome = new TaskCompletionSource<Exception>(TaskCreationOptions.RunContinuationsAsynchronously);
        engine.Spawn("transfer", async fiber =>
        {
            try
            {
                using var registration = fiber.Stopping.Register(() => stoppingSeen.SetResult(true));
                await fiber.SleepAsync(TimeSpan.FromHours(1));
            }
            catch (Exception e)
            {
                outcome.SetResult(e);
                throw;
            }
        });
        await Barrier(engine.Loops[0]);

        engine.RequestStop(TimeSpan.FromSeconds(30));
        Assert.True(await stoppingSeen.Task.Within());
        clock.Advance(TimeSpan.FromSeconds(29));
        await Barrier(engine.Loops[0]);
        Assert.False(outcome.Task.IsCompleted);

        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.IsType<FiberStoppedException>(await outcome.Task.Within());
        await engine.Completion.Within();
    }

    [Fact]
    public async Task Stop_WaitsBegunAfterTheStop_AreRefusedOrGraced()
    {
        var clock = new FakeTimeProvider();
        var engine = StartEngine(clock, loops: 1);
        var (fiberEnd, _) = Pair();
        var stopped = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var secondSleep = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var outcome = new TaskCompletionSource<(Exception? Idle, bool SleptDuringGrace)>(TaskCreationOptions.RunContinuationsAsynchronously);
        engine.Spawn("late", async fiber =>
        {
            using var registration = fiber.Stopping.Register(stopped.SetResult);
            await fiber.SleepAsync(TimeSpan.FromSeconds(1));
            Exception? idle = null;
            try
            {
                await fiber.ReadableAsync(fiberEnd, LongWait, interruptOnStop: true);
            }
            catch (FiberStoppedException e)
            {
                idle = e;
            }

            // Work that is not idle may still wait while the grace period lasts.
            var sleep = fiber.SleepAsync(TimeSpan.FromSeconds(1));
            secondSleep.SetResult();
            await sleep;
            outcome.SetResult((idle, true));
        });
        await Barrier(engine.Loops[0]);
        engine.RequestStop(TimeSpan.FromSeconds(30));
        await stopped.Task.Within();

        clock.Advance(TimeSpan.FromSeconds(1));
        await secondSleep.Task.Within();
        await Barrier(engine.Loops[0]);
        clock.Advance(TimeSpan.FromSeconds(1));

        var (idle, slept) = await outcome.Task.Within();
        Assert.IsType<FiberStoppedException>(idle);
        Assert.True(slept);
        await engine.Completion.Within();
    }

    [Fact]
    public async Task RunBlockingAsync_WorkOnThePool_ResumesOnTheLoopThread()
    {
        var engine = StartEngine(loops: 1);
        var loopThread = await engine.Loops[0].InvokeAsync(() => Environment.CurrentManagedThreadId);
        var threads = new TaskCompletionSource<(int Work, int Resumed, Fiber? Current)>(TaskCreationOptions.RunContinuationsAsynchronously);
        engine.Spawn("resolver", async fiber =>
        {
            var workThread = await fiber.RunBlockingAsync(() => Environment.CurrentManagedThreadId, LongWait);
            threads.SetResult((workThread, Environment.CurrentManagedThreadId, Fiber.Current));
        });

        var (work, resumed, current) = await threads.Task.Within();
        Assert.NotEqual(loopThread, work);
        Assert.Equal(loopThread, resumed);
        Assert.Equal("resolver", current?.Name);
    }

    [Fact]
    public async Task AwaitingAForeignTask_ResumesOnTheSameLoopAsTheSameFiber()
    {
        var engine = StartEngine(loops: 1);
        var loopThread = await engine.Loops[0].InvokeAsync(() => Environment.CurrentManagedThreadId);
        var foreign = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var resumed = new TaskCompletionSource<(int Thread, string? Fiber)>(TaskCreationOptions.RunContinuationsAsynchronously);
        engine.Spawn("stray", async fiber =>
        {
            await foreign.Task;
            resumed.SetResult((Environment.CurrentManagedThreadId, Fiber.Current?.Name));
        });
        await Barrier(engine.Loops[0]);

        await Task.Run(foreign.SetResult);

        Assert.Equal((loopThread, "stray"), await resumed.Task.Within());
    }

    [Fact]
    public async Task ConnectAsync_NobodyListening_ThrowsConnectionRefused()
    {
        var engine = StartEngine(loops: 1);
        int closedPort;
        using (var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            closedPort = ((IPEndPoint)probe.LocalEndPoint!).Port;
        }

        var outcome = new TaskCompletionSource<SocketError>(TaskCreationOptions.RunContinuationsAsynchronously);
        engine.Spawn("connector", async fiber =>
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                await fiber.ConnectAsync(socket, new IPEndPoint(IPAddress.Loopback, closedPort), LongWait);
                outcome.SetResult(SocketError.Success);
            }
            catch (SocketException e)
            {
                outcome.SetResult(e.SocketErrorCode);
            }
        });

        Assert.Equal(SocketError.ConnectionRefused, await outcome.Task.Within());
    }

    [Fact]
    public async Task TwoWaitsAtOnce_OnOneFiber_AreRefused()
    {
        var engine = StartEngine(loops: 1);
        var outcome = new TaskCompletionSource<Exception?>(TaskCreationOptions.RunContinuationsAsynchronously);
        engine.Spawn("greedy", async fiber =>
        {
            var first = fiber.SleepAsync(TimeSpan.FromMilliseconds(1));
            try
            {
#pragma warning disable CA2012 // The second wait is expected to throw before a ValueTask exists.
                _ = fiber.YieldAsync();
#pragma warning restore CA2012
                outcome.SetResult(null);
            }
            catch (InvalidOperationException e)
            {
                outcome.SetResult(e);
            }

            await first;
        });

        Assert.IsType<InvalidOperationException>(await outcome.Task.Within());
    }

    private static async Task<string> EchoThroughAsync(IPEndPoint endpoint, string text)
    {
        using var client = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(endpoint);
        await client.SendAsync(Encoding.ASCII.GetBytes(text));
        client.Shutdown(SocketShutdown.Send);
        var reply = new MemoryStream();
        var buffer = new byte[256];
        int n;
        while ((n = await client.ReceiveAsync(buffer).Within()) > 0)
        {
            reply.Write(buffer, 0, n);
        }

        return Encoding.ASCII.GetString(reply.ToArray());
    }
}

public sealed class EngineTests_Epoll : EngineTests
{
    protected override PollerKind Poller => PollerKind.Epoll;
}

public sealed class EngineTests_Poll : EngineTests
{
    protected override PollerKind Poller => PollerKind.Poll;
}
