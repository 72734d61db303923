using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;

namespace Replicator.Fibers;

/// <summary>
/// Socket operations for fibers, over non-blocking sockets: try the call first and wait for readiness only when the
/// kernel says it would block. Only the synchronous span overloads of <see cref="Socket"/> are used, so .NET's own
/// async socket engine never registers these sockets.
/// </summary>
public static class FiberSocketExtensions
{
    /// <summary>Receives into <paramref name="buffer"/>; returns the count, 0 at end of stream.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public static async ValueTask<int> ReceiveAsync(this Fiber fiber, Socket socket, Memory<byte> buffer, TimeSpan timeout, bool interruptOnStop = false)
    {
        while (true)
        {
            var received = socket.Receive(buffer.Span, SocketFlags.None, out var error);
            if (error == SocketError.Success)
            {
                return received;
            }

            if (error != SocketError.WouldBlock)
            {
                throw new SocketException((int)error);
            }

            await fiber.ReadableAsync(socket, timeout, interruptOnStop);
        }
    }

    /// <summary>Sends all of <paramref name="data"/>, waiting for room as often as needed.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public static async ValueTask SendAsync(this Fiber fiber, Socket socket, ReadOnlyMemory<byte> data, TimeSpan timeout)
    {
        while (!data.IsEmpty)
        {
            var sent = socket.Send(data.Span, SocketFlags.None, out var error);
            if (error == SocketError.Success)
            {
                data = data[sent..];
            }
            else if (error == SocketError.WouldBlock)
            {
                await fiber.WritableAsync(socket, timeout);
            }
            else
            {
                throw new SocketException((int)error);
            }
        }
    }

    /// <summary>Connects a non-blocking socket, waiting up to <paramref name="timeout"/> for the handshake.</summary>
    public static async ValueTask ConnectAsync(this Fiber fiber, Socket socket, EndPoint endpoint, TimeSpan timeout)
    {
        socket.Blocking = false;
        try
        {
            socket.Connect(endpoint);
            return;
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.WouldBlock or SocketError.InProgress)
        {
        }

        await fiber.WritableAsync(socket, timeout);
        var error = (SocketError)(int)socket.GetSocketOption(SocketOptionLevel.Socket, SocketOptionName.Error)!;
        if (error != SocketError.Success)
        {
            throw new SocketException((int)error);
        }
    }
}
