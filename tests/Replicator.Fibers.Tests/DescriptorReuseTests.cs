using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Time.Testing;

namespace Replicator.Fibers.Tests;

/// <summary>
/// The kernel hands a closed descriptor's number to the next socket at once. The loop's per-descriptor table must
/// not let the new socket inherit anything of the old one (issue 9: a wait that ended by its deadline left the
/// number "armed", and every later socket with that number was never registered and hung).
/// </summary>
[Collection(nameof(DescriptorNumbers))]
public abstract class DescriptorReuseTests : EngineTestBase
{
    [Fact]
    public async Task TimedOutSocketClosed_NextSocketWithItsNumber_IsServed()
    {
        var clock = new FakeTimeProvider();
        var engine = StartEngine(clock, loops: 1);
        var (idle, _) = Pair();
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        client.Connect(listener.LocalEndPoint!);
        var timedOut = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var sameNumber = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        var received = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        var loop = engine.Spawn("server", async fiber =>
        {
            await Assert.ThrowsAsync<FiberTimeoutException>(async () => await fiber.ReadableAsync(idle, TimeSpan.FromSeconds(5)));
            var number = idle.SafeHandle.DangerousGetHandle();
            idle.Dispose();
            using var next = listener.Accept();
            next.Blocking = false;
            sameNumber.SetResult(next.SafeHandle.DangerousGetHandle() == number);
            timedOut.SetResult();
            received.SetResult(await fiber.ReceiveAsync(next, new byte[8], LongWait));
        }).Loop;
        await Barrier(loop);

        clock.Advance(TimeSpan.FromSeconds(5));
        await timedOut.Task.Within();
        Assert.True(await sameNumber.Task.Within(), "the kernel did not reuse the number: the test proves nothing");
        client.Send("hi"u8);

        Assert.Equal(2, await received.Task.Within(10));
    }

    /// <summary>
    /// A bounded soak: rounds of connections that idle out, reset, close unannounced or talk, on two loops; after
    /// every round the clock moves past the idle timeout, and every talking connection of every round is answered.
    /// </summary>
    [Fact]
    public async Task Soak_IdleTimeoutsResetsAndCloses_EveryLaterConnectionIsAnswered()
    {
        const int Rounds = 40;
        const int PerRound = 40;
        var idleTimeout = TimeSpan.FromSeconds(10);
        var clock = new FakeTimeProvider();
        var engine = StartEngine(clock, loops: 2);
        var waiting = 0;
        var ended = 0;
        var endpoint = engine.Listen(new IPEndPoint(IPAddress.Loopback, 0), async (fiber, client) =>
        {
            using var counted = new Disposal(() => Interlocked.Increment(ref ended));
            using (client)
            {
                var buffer = new byte[64];
                while (true)
                {
                    Interlocked.Increment(ref waiting);
                    int n;
                    try
                    {
                        n = await fiber.ReceiveAsync(client, buffer, idleTimeout);
                    }
                    catch (Exception e) when (e is FiberTimeoutException or SocketException)
                    {
                        return;
                    }
                    finally
                    {
                        Interlocked.Decrement(ref waiting);
                    }

                    if (n == 0)
                    {
                        return;
                    }

                    await fiber.SendAsync(client, buffer.AsMemory(0, n), LongWait);
                }
            }
        });

        var random = new Random(9);
        var answered = 0;
        var connected = 0;
        for (var round = 0; round < Rounds; round++)
        {
            var idle = new List<Socket>();
            var talkers = new List<Task>();
            for (var i = 0; i < PerRound; i++)
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                await socket.ConnectAsync(endpoint);
                connected++;
                switch (random.Next(4))
                {
                    case 0:
                        idle.Add(socket);
                        break;
                    case 1:
                        // A reset: the server's next call on it fails.
                        socket.LingerState = new LingerOption(true, 0);
                        socket.Dispose();
                        break;
                    case 2:
                        socket.Dispose();
                        break;
                    default:
                        talkers.Add(TalkAsync(socket, round * PerRound + i));
                        break;
                }
            }

            await Task.WhenAll(talkers).Within(30);
            answered += talkers.Count;
            // Every other connection's fiber has ended and every idle one's waits: then the idle ones time out.
            await WaitForAsync(() => Volatile.Read(ref ended) == connected - idle.Count && Volatile.Read(ref waiting) == idle.Count, engine);
            clock.Advance(idleTimeout);
            foreach (var socket in idle)
            {
                // The end arrives once the server's fiber has closed its socket: no wait holds on to it (issue 9:
                // a poll(2) that still polled the old number kept a closed socket open for as long as it blocked).
                socket.ReceiveTimeout = 20_000;
                Assert.Equal(0, socket.Receive(new byte[1]));
                socket.Dispose();
            }
        }

        Assert.True(answered > Rounds * PerRound / 5, $"only {answered} talking connections: the mix is off");
    }

    private static async Task TalkAsync(Socket socket, int id)
    {
        using (socket)
        {
            var message = BitConverter.GetBytes(id);
            for (var exchange = 0; exchange < 2; exchange++)
            {
                await socket.SendAsync(message);
                var echo = new byte[message.Length];
                var read = 0;
                while (read < echo.Length)
                {
                    read += await socket.ReceiveAsync(echo.AsMemory(read)).AsTask().Within(20);
                }

                Assert.Equal(message, echo);
            }
        }
    }

    /// <summary>
    /// Runs both loops' queues until the condition holds, then once more: a fiber counted as waiting has reached its
    /// wait only when its loop has run past the count.
    /// </summary>
    private static async Task WaitForAsync(Func<bool> condition, FiberEngine engine)
    {
        for (var turn = 0; !condition(); turn++)
        {
            Assert.True(turn < 10_000, "the loops never settled");
            await BarrierAsync(engine);
            await Task.Yield();
        }

        await BarrierAsync(engine);
    }

    private static async Task BarrierAsync(FiberEngine engine)
    {
        foreach (var loop in engine.Loops)
        {
            await Barrier(loop);
        }
    }
}

public sealed class DescriptorReuseTests_Epoll : DescriptorReuseTests
{
    protected override PollerKind Poller => PollerKind.Epoll;
}

public sealed class DescriptorReuseTests_Poll : DescriptorReuseTests
{
    protected override PollerKind Poller => PollerKind.Poll;
}

/// <summary>These tests need the kernel to hand back the number they just closed: no other test may open sockets meanwhile.</summary>
[CollectionDefinition(nameof(DescriptorNumbers), DisableParallelization = true)]
public sealed class DescriptorNumbers
{
}
