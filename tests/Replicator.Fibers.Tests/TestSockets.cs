using System.Net;
using System.Net.Sockets;

namespace Replicator.Fibers.Tests;

/// <summary>
/// Connected loopback socket pairs: one end for a fiber, accepted as the engine accepts (non-blocking at the kernel,
/// no .NET socket engine state), one for the test (blocking).
/// </summary>
internal static class TestSockets
{
    public static (Socket FiberEnd, Socket TestEnd) Pair()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        var testEnd = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        testEnd.Connect(listener.LocalEndPoint!);
        var fiberEnd = FiberSocketExtensions.Accept(listener);
        // A safety net, not a synchronisation: a broken engine fails the test instead of hanging it.
        testEnd.ReceiveTimeout = 10_000;
        return (fiberEnd, testEnd);
    }

    /// <summary>Sends on a non-blocking <paramref name="socket"/> until the kernel takes no more; returns the bytes it took.</summary>
    public static long FillSendBuffer(Socket socket)
    {
        var chunk = new byte[65536];
        long total = 0;
        while (socket.Send(chunk, 0, chunk.Length, SocketFlags.None, out var error) is var n && error == SocketError.Success)
        {
            total += n;
        }

        return total;
    }

    public static byte[] ReceiveExactly(Socket socket, int count)
    {
        var buffer = new byte[count];
        var read = 0;
        while (read < count)
        {
            var n = socket.Receive(buffer, read, count - read, SocketFlags.None);
            if (n == 0)
            {
                throw new IOException($"end of stream after {read} of {count} bytes");
            }

            read += n;
        }

        return buffer;
    }
}

internal static class TaskTestExtensions
{
    /// <summary>A generous bound so that a broken engine fails a test instead of hanging the run.</summary>
    public static Task<T> Within<T>(this Task<T> task, int seconds = 20) => task.WaitAsync(TimeSpan.FromSeconds(seconds));

    public static Task Within(this Task task, int seconds = 20) => task.WaitAsync(TimeSpan.FromSeconds(seconds));
}
