using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Time.Testing;

namespace Replicator.Fibers.Tests;

/// <summary>
/// What a wait may rely on when the readiness it waits for was reported while nobody waited. epoll is edge-triggered
/// (one report per arrival): a wait that trusted the next edge after bytes were already there would hang forever.
/// Written once, run over every backend.
/// </summary>
public abstract class ReadinessTests : EngineTestBase
{
    [Fact]
    public async Task ReadableAsync_BytesLeftByAFullReceive_WhoseArrivalWasReportedToNobody_ResumesAtOnce()
    {
        var clock = new FakeTimeProvider();
        var engine = StartEngine(clock, loops: 1);
        var (fiberEnd, testEnd) = Pair();
        var firstRead = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var rest = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var loop = engine.Spawn("reader", async fiber =>
        {
            var buffer = new byte[4];
            await fiber.ReadableAsync(fiberEnd, LongWait); // registers the socket with the poller
            var n = await fiber.ReceiveAsync(fiberEnd, buffer, LongWait); // all four asked for: not drained
            firstRead.SetResult(Encoding.ASCII.GetString(buffer, 0, n));
            await fiber.SleepAsync(TimeSpan.FromSeconds(1)); // the next bytes' arrival is reported meanwhile
            await fiber.ReadableAsync(fiberEnd, LongWait);
            n = await fiber.ReceiveAsync(fiberEnd, buffer, LongWait);
            rest.SetResult(Encoding.ASCII.GetString(buffer, 0, n));
        }).Loop;
        await Barrier(loop);

        testEnd.Send("aaaabb"u8);
        Assert.Equal("aaaa", await firstRead.Task.Within());
        await Barrier(loop);
        testEnd.Send("cc"u8);
        await Barrier(loop); // the loop polled: the arrival of "cc" was reported while the fiber slept
        await Barrier(loop);
        clock.Advance(TimeSpan.FromSeconds(1));

        Assert.Equal("bbcc", await rest.Task.Within());
    }

    /// <summary>
    /// A short read means the queue is empty, not that nothing is left to hear: the peer's end, reported while the
    /// fiber was busy, keeps the socket readable with no new edge to come.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ReceiveAsync_LastBytesThenThePeersEnd_ReportedWhileBusy_TheEndIsSeenAfterTheShortRead(bool reset)
    {
        var clock = new FakeTimeProvider();
        var engine = StartEngine(clock, loops: 1);
        var (fiberEnd, testEnd) = Pair();
        var first = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var outcome = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var loop = engine.Spawn("reader", async fiber =>
        {
            var buffer = new byte[64];
            await fiber.ReceiveAsync(fiberEnd, buffer, LongWait);
            first.SetResult();
            await fiber.SleepAsync(TimeSpan.FromSeconds(1)); // the last bytes and the end arrive meanwhile
            var n = await fiber.ReceiveAsync(fiberEnd, buffer, LongWait); // short: the queue is empty after it
            var text = Encoding.ASCII.GetString(buffer, 0, n);
            try
            {
                await fiber.ReadableAsync(fiberEnd, LongWait); // as a connection between requests waits, holding no buffer
                outcome.SetResult($"{text}, then {await fiber.ReceiveAsync(fiberEnd, buffer, LongWait)}");
            }
            catch (SocketException e)
            {
                outcome.SetResult($"{text}, then {e.SocketErrorCode}");
            }
        }).Loop;
        await Barrier(loop);
        testEnd.Send("x"u8);
        await first.Task.Within();
        await Barrier(loop);

        testEnd.Send("yy"u8);
        if (reset)
        {
            testEnd.LingerState = new LingerOption(true, 0);
            testEnd.Close(); // RST
        }
        else
        {
            testEnd.Shutdown(SocketShutdown.Send); // FIN
        }

        await Barrier(loop);
        await Barrier(loop);
        clock.Advance(TimeSpan.FromSeconds(1));

        Assert.Equal(reset ? "yy, then ConnectionReset" : "yy, then 0", await outcome.Task.Within());
    }

    [Fact]
    public async Task ReceiveAsync_AfterAShortRead_WaitsForAndGetsTheNextBytes()
    {
        var engine = StartEngine(loops: 1);
        var (fiberEnd, testEnd) = Pair();
        var reads = new List<string>();
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var drained = new SemaphoreSlim(0);
        engine.Spawn("reader", async fiber =>
        {
            var buffer = new byte[64];
            for (var i = 0; i < 20; i++)
            {
                var n = await fiber.ReceiveAsync(fiberEnd, buffer, LongWait); // short: the queue is empty after it
                reads.Add(Encoding.ASCII.GetString(buffer, 0, n));
                drained.Release();
            }

            done.SetResult();
        });

        for (var i = 0; i < 20; i++)
        {
            testEnd.Send(Encoding.ASCII.GetBytes($"m{i}"));
            Assert.True(await drained.WaitAsync(TimeSpan.FromSeconds(10)), $"message {i} was never received");
        }

        await done.Task.Within();
        Assert.Equal(Enumerable.Range(0, 20).Select(i => $"m{i}"), reads);
    }

    [Fact]
    public async Task ReadableAsync_WhileTheSameSocketsWriterWaits_BothAreWoken()
    {
        var engine = StartEngine(loops: 1);
        var (fiberEnd, testEnd) = Pair();
        fiberEnd.Blocking = false;
        var filled = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        var wrote = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var read = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var loop = engine.Spawn("writer", async fiber =>
        {
            filled.SetResult(TestSockets.FillSendBuffer(fiberEnd));
            await fiber.WritableAsync(fiberEnd, LongWait);
            wrote.SetResult();
        }).Loop;
        var total = await filled.Task.Within();
        engine.Spawn("reader", async fiber =>
        {
            var buffer = new byte[16];
            var n = await fiber.ReceiveAsync(fiberEnd, buffer, LongWait);
            read.SetResult(Encoding.ASCII.GetString(buffer, 0, n));
        });
        await Barrier(loop);

        testEnd.Send("ping"u8);
        Assert.Equal("ping", await read.Task.Within());
        Assert.False(wrote.Task.IsCompleted);
        TestSockets.ReceiveExactly(testEnd, (int)total);
        await wrote.Task.Within();
    }
}

public sealed class ReadinessTests_Epoll : ReadinessTests
{
    protected override PollerKind Poller => PollerKind.Epoll;

    /// <summary>The reason for edges: a keep-alive exchange of requests and answers arms the socket once, not per request.</summary>
    [Fact]
    public async Task RequestAndAnswer_ManyTimesOnOneConnection_ArmsTheSocketOnlyAtTheStart()
    {
        var engine = StartEngine(loops: 1);
        var (fiberEnd, testEnd) = Pair();
        var loop = engine.Spawn("echo", fiber => EchoAsync(fiber, fiberEnd)).Loop;
        await Barrier(loop);
        var armsBefore = await loop.InvokeAsync(() => loop.Arms);

        var buffer = new byte[16];
        for (var i = 0; i < 100; i++)
        {
            testEnd.Send("ping"u8);
            Assert.Equal(4, testEnd.Receive(buffer));
        }

        var arms = await loop.InvokeAsync(() => loop.Arms) - armsBefore;
        Assert.InRange(arms, 0, 5);
    }
}

public sealed class ReadinessTests_Poll : ReadinessTests
{
    protected override PollerKind Poller => PollerKind.Poll;
}
