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
    /// <summary>One read's worth of a tunnel direction: TLS records are at most 16 KiB.</summary>
    private const int PumpBuffer = 16 * 1024;

    public static async ValueTask<string> RunAsync(Exchange exchange)
    {
        var options = exchange.Server.Options;
        var (host, port) = RequestUrl.ParseAuthority(exchange.Request.Target, ProxyOptions.HttpsPort);
        exchange.CloseAfter();
        if (!options.ConnectPorts.Contains(port))
        {
            throw new ProxyException(FailedStep.NotAllowed, $"CONNECT to port {port} is not allowed", outcome: Outcomes.Tunnel);
        }

        if (exchange.Server.CacheOptions.Offline)
        {
            throw new ProxyException(FailedStep.Offline, $"offline: cannot open a tunnel to {host}:{port}");
        }

        Socket upstream;
        byte[] fromParent = [];
        try
        {
            if (options.External is { } parent)
            {
                (upstream, fromParent) = await ConnectThroughParentAsync(exchange, parent, host, port);
            }
            else
            {
                upstream = await exchange.Server.Origin.ConnectAsync(exchange.Fiber, host, port, exchange.Timeout);
            }
        }
        catch (Exception e)
        {
            throw ProxyException.FromUpstream(e, $"{host}:{port}", exchange.Timeout);
        }

        using (upstream)
        {
            exchange.Respond(200);
            await exchange.SendAsync("HTTP/1.1 200 Connection Established\r\n\r\n"u8.ToArray());
            if (fromParent.Length > 0)
            {
                await exchange.SendAsync(fromParent);
            }

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
                await exchange.Fiber.WaitUntilAsync(finished, () => otherDone, Timeout.InfiniteTimeSpan);

                exchange.CountSent(upstreamToClient);
            }
        }

        return Outcomes.Tunnel;
    }

    /// <summary>Opens the tunnel through the parent proxy: its own CONNECT, with our credentials; any 2xx will do.</summary>
    private static async ValueTask<(Socket Socket, byte[] Early)> ConnectThroughParentAsync(Exchange exchange, ParentProxy parent, string host, int port)
    {
        var socket = await UpstreamPool.ConnectAsync(exchange.Fiber, parent.Host, parent.Port, exchange.Timeout, access: null);
        var connection = new BufferedConnection(socket);
        try
        {
            var target = host.Contains(':', StringComparison.Ordinal) && !host.StartsWith('[') ? $"[{host}]:{port}" : $"{host}:{port}";
            var credentials = parent.Authorization is { } authorization ? $"Proxy-Authorization: {authorization}\r\n" : string.Empty;
            await connection.SendAsync(exchange.Fiber, System.Text.Encoding.ASCII.GetBytes($"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n{credentials}\r\n"), exchange.Timeout);
            var options = exchange.Server.Options;
            var (head, end) = await HeadReader.ReadAsync<ResponseHead>(connection, exchange.Fiber, HeadParser.TryParseResponse, exchange.Timeout, options.ResponseHeadTimeout, started: exchange.Fiber.Loop.TimeProvider.GetTimestamp());
            if (head is null)
            {
                throw end == HeadEnd.TooSlow
                    ? new ProxyException(FailedStep.UpstreamTimeout, $"parent proxy {parent} did not answer CONNECT within {options.ResponseHeadTimeout.TotalSeconds:0} s", outcome: Outcomes.Tunnel)
                    : new IOException($"parent proxy {parent} closed the connection before answering CONNECT");
            }

            if (head.Status is < 200 or >= 300)
            {
                throw new ProxyException(FailedStep.UpstreamRefused, $"parent proxy {parent} refused CONNECT {target}: {head.Status} {head.Reason}", outcome: Outcomes.Tunnel);
            }

            var early = connection.BufferedMemory.ToArray();
            connection.Consume(early.Length);
            return (socket, early);
        }
        catch
        {
            connection.Dispose();
            throw;
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
                var buffer = ArrayPool<byte>.Shared.Rent(PumpBuffer);
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
