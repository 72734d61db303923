using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using Replicator.Fibers.Polling;

namespace Replicator.Fibers;

/// <summary>
/// Socket operations for fibers, over non-blocking sockets: try the call first and wait for readiness only when the
/// kernel says it would block. recv(2) and send(2) are called directly (the handle held for the call), never .NET's
/// socket methods: a socket accepted by <see cref="Accept"/> then needs no .NET socket engine state at all (about
/// 150 bytes per connection, which an idle connection would otherwise hold).
/// </summary>
public static class FiberSocketExtensions
{
    /// <summary>Receives into <paramref name="buffer"/>; returns the count, 0 at end of stream.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public static async ValueTask<int> ReceiveAsync(this Fiber fiber, Socket socket, Memory<byte> buffer, TimeSpan timeout, bool interruptOnStop = false)
    {
        while (true)
        {
            var received = Call(socket, buffer.Span, send: false, out var errno);
            if (received >= 0)
            {
                // A stream's receive returns less than asked only when its queue is empty: what comes next is an edge.
                if (received > 0 && received < buffer.Length)
                {
                    fiber.Loop.NoteDrained(socket, Readiness.Readable);
                }

                return (int)received;
            }

            if (errno != Interop.EAGAIN)
            {
                throw new SocketException((int)Interop.SocketErrorOf(errno));
            }

            await fiber.DrainedAsync(socket, Readiness.Readable, timeout, interruptOnStop);
        }
    }

    /// <summary>
    /// Accepts one pending connection of a listening socket (accept4(2)), non-blocking at the kernel only: .NET sees a
    /// blocking socket and keeps no socket engine state for it, since only these methods use it. Throws a
    /// <see cref="SocketException"/> (WouldBlock when another loop took the connection first).
    /// </summary>
    public static Socket Accept(Socket listener)
    {
        var handle = listener.SafeHandle;
        var added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            while (true)
            {
                var fd = Interop.accept4((int)handle.DangerousGetHandle(), 0, 0, Interop.SOCK_NONBLOCK | Interop.SOCK_CLOEXEC);
                if (fd >= 0)
                {
                    return new Socket(new SafeSocketHandle(fd, ownsHandle: true));
                }

                var errno = Marshal.GetLastPInvokeError();
                if (errno != Interop.EINTR)
                {
                    throw new SocketException((int)Interop.SocketErrorOf(errno));
                }
            }
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }
    }

    /// <summary>One recv(2) or send(2), the handle held meanwhile (a socket closed by another thread is never a reused descriptor); -1 with errno set, EINTR retried.</summary>
    private static unsafe nint Call(Socket socket, ReadOnlySpan<byte> buffer, bool send, out int errno)
    {
        var handle = socket.SafeHandle;
        var added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            var fd = (int)handle.DangerousGetHandle();
            fixed (byte* bytes = buffer)
            {
                while (true)
                {
                    var result = send
                        ? Interop.send(fd, bytes, (nuint)buffer.Length, Interop.MSG_NOSIGNAL)
                        : Interop.recv(fd, bytes, (nuint)buffer.Length, 0);
                    errno = result < 0 ? Marshal.GetLastPInvokeError() : 0;
                    if (result >= 0 || errno != Interop.EINTR)
                    {
                        return result;
                    }
                }
            }
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }
    }

    /// <summary>Sends all of <paramref name="data"/>, waiting for room as often as needed.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public static async ValueTask SendAsync(this Fiber fiber, Socket socket, ReadOnlyMemory<byte> data, TimeSpan timeout)
    {
        while (!data.IsEmpty)
        {
            var sent = SendNow(socket, data.Span);
            if (sent > 0)
            {
                data = data[sent..];
            }
            else
            {
                await fiber.DrainedAsync(socket, Readiness.Writable, timeout);
            }
        }
    }

    /// <summary>
    /// One send(2) of what the socket takes now, without waiting: the bytes sent, 0 when it has no room (wait with
    /// <see cref="Fiber.WritableAsync"/>). For memory that may change while a fiber waits: the caller looks again
    /// after the wait instead of sending bytes that were overwritten meanwhile.
    /// </summary>
    public static int SendNow(Socket socket, ReadOnlySpan<byte> data)
    {
        var sent = Call(socket, data, send: true, out var errno);
        if (sent >= 0)
        {
            return (int)sent;
        }

        return errno == Interop.EAGAIN ? 0 : throw new SocketException((int)Interop.SocketErrorOf(errno));
    }

    /// <summary>
    /// Sends <paramref name="count"/> bytes of <paramref name="file"/> from <paramref name="offset"/> with sendfile(2):
    /// the kernel copies from the page cache to the socket, the bytes never pass through managed memory.
    /// </summary>
    public static async ValueTask SendFileAsync(this Fiber fiber, Socket socket, SafeFileHandle file, long offset, long count, TimeSpan timeout)
    {
        while (count > 0)
        {
            var sent = SendFileOnce(socket, file, ref offset, count, out var errno);
            if (sent > 0)
            {
                count -= sent;
            }
            else if (sent == 0)
            {
                throw new EndOfStreamException("the file ended before the bytes to send");
            }
            else if (errno == Interop.EAGAIN)
            {
                await fiber.DrainedAsync(socket, Readiness.Writable, timeout);
            }
            else
            {
                throw new SocketException((int)Interop.SocketErrorOf(errno));
            }
        }
    }

    /// <summary>One sendfile(2), both handles held meanwhile (as <see cref="Call"/>); -1 with errno set, EINTR retried.</summary>
    private static unsafe long SendFileOnce(Socket socket, SafeFileHandle file, ref long offset, long count, out int errno)
    {
        var socketHandle = socket.SafeHandle;
        bool socketAdded = false, fileAdded = false;
        try
        {
            socketHandle.DangerousAddRef(ref socketAdded);
            file.DangerousAddRef(ref fileAdded);
            fixed (long* position = &offset)
            {
                while (true)
                {
                    var sent = Interop.sendfile((int)socketHandle.DangerousGetHandle(), (int)file.DangerousGetHandle(), position, (nuint)Math.Min(count, 1L << 30));
                    errno = sent < 0 ? Marshal.GetLastPInvokeError() : 0;
                    if (sent >= 0 || errno != Interop.EINTR)
                    {
                        return sent;
                    }
                }
            }
        }
        finally
        {
            if (fileAdded)
            {
                file.DangerousRelease();
            }

            if (socketAdded)
            {
                socketHandle.DangerousRelease();
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
