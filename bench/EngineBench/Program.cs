using System.Buffers;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Replicator.Fibers;

namespace EngineBench;

/// <summary>
/// `EngineBench fibers|async PORT [LOOPS] [reuseport|handoff] [epoll|poll]`: answers every HTTP request head
/// (pipelined or not) with a fixed 200. Both servers follow the same rules so that only the engine differs: no
/// buffer is held while a connection is idle (fibers wait for readiness, async does a zero-byte read), a buffer
/// is rented from the shared pool only while there are bytes to read.
/// </summary>
internal static class Program
{
    private static readonly byte[] s_response = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello"u8.ToArray();
    private static readonly TimeSpan s_timeout = TimeSpan.FromMinutes(5);

    public static int Main(string[] args)
    {
        var port = int.Parse(args[1], CultureInfo.InvariantCulture);
        var loops = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : Environment.ProcessorCount;
        var endpoint = new IPEndPoint(IPAddress.Loopback, port);
        switch (args[0])
        {
            case "fibers":
                RunFibers(endpoint, loops, args.Length > 3 && args[3] == "handoff" ? ListenerDistribution.HandOff : ListenerDistribution.ReusePort, args.Length > 4 && args[4] == "poll" ? PollerKind.Poll : PollerKind.Epoll);
                return 0;
            case "async":
                RunAsync(endpoint).GetAwaiter().GetResult();
                return 0;
            default:
                Console.Error.WriteLine("usage: EngineBench fibers|async PORT [LOOPS] [reuseport|handoff] [epoll|poll]");
                return 2;
        }
    }

    private static void RunFibers(IPEndPoint endpoint, int loops, ListenerDistribution distribution, PollerKind poller)
    {
        using var engine = new FiberEngine(new FiberEngineOptions { LoopCount = loops, Distribution = distribution, Poller = poller, Logger = Serilog.Core.Logger.None });
        using var signals = engine.StopOnSignals(TimeSpan.Zero);
        var bound = engine.Listen(endpoint, ServeFiberAsync);
        Console.WriteLine($"listening on {bound.Port}");
        engine.Start();
        engine.Completion.Wait();
    }

    private static async ValueTask ServeFiberAsync(Fiber fiber, Socket client)
    {
        var counter = new RequestCounter();
        while (true)
        {
            await fiber.ReadableAsync(client, s_timeout, interruptOnStop: true);
            var buffer = ArrayPool<byte>.Shared.Rent(4096);
            int requests;
            try
            {
                var n = client.Receive(buffer.AsSpan(), SocketFlags.None, out var error);
                if (error == SocketError.WouldBlock)
                {
                    continue;
                }

                if (error != SocketError.Success || n == 0)
                {
                    return;
                }

                requests = counter.Count(buffer.AsSpan(0, n));
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }

            for (var i = 0; i < requests; i++)
            {
                await fiber.SendAsync(client, s_response, s_timeout);
            }
        }
    }

    private static async Task RunAsync(IPEndPoint endpoint)
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(endpoint);
        listener.Listen(1024);
        Console.WriteLine($"listening on {((IPEndPoint)listener.LocalEndPoint!).Port}");
        while (true)
        {
            var client = await listener.AcceptAsync();
            client.NoDelay = true;
            _ = Task.Run(() => ServeAsync(client));
        }
    }

    private static async Task ServeAsync(Socket client)
    {
        using var _ = client;
        var counter = new RequestCounter();
        try
        {
            while (true)
            {
                await client.ReceiveAsync(Memory<byte>.Empty);
                var buffer = ArrayPool<byte>.Shared.Rent(4096);
                int requests;
                try
                {
                    var n = await client.ReceiveAsync(buffer.AsMemory());
                    if (n == 0)
                    {
                        return;
                    }

                    requests = counter.Count(buffer.AsSpan(0, n));
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                }

                for (var i = 0; i < requests; i++)
                {
                    await client.SendAsync(s_response);
                }
            }
        }
        catch (SocketException)
        {
        }
    }

    /// <summary>Counts complete request heads (CRLF CRLF), carrying a partial terminator across reads.</summary>
    private struct RequestCounter
    {
        private int _matched;

        public int Count(ReadOnlySpan<byte> data)
        {
            var count = 0;
            foreach (var b in data)
            {
                _matched = b == (_matched % 2 == 0 ? (byte)'\r' : (byte)'\n') ? _matched + 1 : (b == '\r' ? 1 : 0);
                if (_matched == 4)
                {
                    count++;
                    _matched = 0;
                }
            }

            return count;
        }
    }
}
