using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using Replicator.Fibers.Polling;

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

    /// <summary>
    /// Sends <paramref name="count"/> bytes of <paramref name="file"/> from <paramref name="offset"/> with sendfile(2):
    /// the kernel copies from the page cache to the socket, the bytes never pass through managed memory.
    /// </summary>
    public static async ValueTask SendFileAsync(this Fiber fiber, Socket socket, SafeFileHandle file, long offset, long count, TimeSpan timeout)
    {
        var socketFd = (int)socket.SafeHandle.DangerousGetHandle();
        var fileFd = (int)file.DangerousGetHandle();
        while (count > 0)
        {
            var sent = SendFileOnce(socketFd, fileFd, ref offset, count);
            if (sent > 0)
            {
                count -= sent;
            }
            else if (sent == 0)
            {
                throw new EndOfStreamException("the file ended before the bytes to send");
            }
            else
            {
                var errno = Marshal.GetLastPInvokeError();
                if (errno != Interop.EAGAIN && errno != Interop.EINTR)
                {
                    throw new SocketException(errno == Interop.EPIPE ? (int)SocketError.Shutdown : errno == Interop.ECONNRESET ? (int)SocketError.ConnectionReset : (int)SocketError.SocketError);
                }

                if (errno == Interop.EAGAIN)
                {
                    await fiber.WritableAsync(socket, timeout);
                }
            }
        }
    }

    private static unsafe long SendFileOnce(int socketFd, int fileFd, ref long offset, long count)
    {
        fixed (long* position = &offset)
        {
            return Interop.sendfile(socketFd, fileFd, position, (nuint)Math.Min(count, 1L << 30));
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
