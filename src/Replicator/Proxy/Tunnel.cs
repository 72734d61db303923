using System.Buffers;
using System.Net.Sockets;
using Replicator.Fibers;
using Replicator.Http;

namespace Replicator.Proxy;

/// <summary>
/// CONNECT: a byte tunnel to host:port (browsers need it for every https site), to the allowed ports only, nothing
/// cached. Two fibers on the client's loop pump one direction each; when one side ends its stream, the other side's
/// sending half is shut, and the tunnel ends when both directions have.
/// </summary>
internal static class Tunnel
{
    public static async ValueTask RunAsync(Exchange exchange)
    {
        var settings = exchange.Server.Settings;
        var (host, port) = RequestUrl.ParseAuthority(exchange.Request.Target, 443);
        exchange.Outcome = Outcomes.Tunnel;
        exchange.KeepAlive = false;
        if (!settings.ConnectPorts.Contains(port))
        {
            throw new ProxyException(403, $"CONNECT to port {port} is not allowed", Outcomes.Tunnel);
        }

        if (settings.Offline)
        {
            throw new ProxyException(504, $"offline: cannot open a tunnel to {host}:{port}", Outcomes.Offline);
        }

        Socket upstream;
        try
        {
            upstream = await UpstreamPool.ConnectAsync(exchange.Fiber, host, port, exchange.Timeout);
        }
        catch (Exception e)
        {
            throw ProxyException.FromUpstream(e, $"{host}:{port}", exchange.Timeout);
        }

        using (upstream)
        {
            exchange.Status = 200;
            await exchange.SendAsync("HTTP/1.1 200 Connection Established\r\n\r\n"u8.ToArray());
            var finished = new FiberSignal();
            var otherDone = false;
            long upstreamToClient = 0;
            exchange.Fiber.Loop.Spawn($"tunnel {host}:{port}", async fiber =>
            {
                try
                {
                    upstreamToClient = await PumpAsync(fiber, upstream, exchange.Client.Socket, ReadOnlyMemory<byte>.Empty, exchange.Timeout);
                }
                finally
                {
                    otherDone = true;
                    finished.Raise();
                }
            });

            // Bytes the client sent after the CONNECT head (a TLS hello) are already in our buffer.
            var early = exchange.Client.BufferedMemory.ToArray();
            exchange.Client.Consume(early.Length);
            try
            {
                await PumpAsync(exchange.Fiber, exchange.Client.Socket, upstream, early, exchange.Timeout);
            }
            finally
            {
                while (!otherDone)
                {
                    var generation = finished.Generation;
                    if (!otherDone)
                    {
                        await exchange.Fiber.WaitAsync(finished, generation, Timeout.InfiniteTimeSpan);
                    }
                }

                exchange.CountSent(upstreamToClient);
            }
        }
    }

    /// <summary>Copies from one socket to the other until end of stream or an error; returns the bytes copied.</summary>
    private static async ValueTask<long> PumpAsync(Fiber fiber, Socket from, Socket to, ReadOnlyMemory<byte> first, TimeSpan timeout)
    {
        long total = 0;
        try
        {
            if (!first.IsEmpty)
            {
                await fiber.SendAsync(to, first, timeout);
                total += first.Length;
            }

            while (true)
            {
                await fiber.ReadableAsync(from, timeout);
                var buffer = ArrayPool<byte>.Shared.Rent(16 * 1024);
                try
                {
                    var n = await fiber.ReceiveAsync(from, buffer, timeout);
                    if (n == 0)
                    {
                        break;
                    }

                    await fiber.SendAsync(to, buffer.AsMemory(0, n), timeout);
                    total += n;
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                }
            }
        }
        catch (Exception e) when (e is SocketException or FiberTimeoutException)
        {
            // Either side going away ends this direction; the other notices on its own socket.
        }

        try
        {
            to.Shutdown(SocketShutdown.Send);
        }
        catch (SocketException)
        {
        }

        return total;
    }
}
