using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Replicator.Tests;

/// <summary>
/// A client that sends raw bytes, for what HttpClient would never send, and reads the answer as text (Latin-1:
/// every byte is one character). Every read is bounded: a broken proxy fails a test instead of hanging the run.
/// </summary>
internal static class RawClient
{
    /// <summary>The longest any single read waits.</summary>
    public static readonly TimeSpan ReadBound = TimeSpan.FromSeconds(20);

    /// <summary>
    /// Connects to <paramref name="endpoint"/> (from <paramref name="source"/> when given), sends
    /// <paramref name="request"/>, and reads until the other end closes or <paramref name="until"/> holds.
    /// </summary>
    public static async Task<string> ExchangeAsync(IPEndPoint endpoint, string request, Func<string, bool>? until = null, IPAddress? source = null)
    {
        using var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        if (source is not null)
        {
            socket.Bind(new IPEndPoint(source, 0));
        }

        await socket.ConnectAsync(endpoint);
        await socket.SendAsync(Encoding.Latin1.GetBytes(request));
        return await ReadAsync(socket, until);
    }

    /// <summary>Reads until the other end closes or <paramref name="until"/> holds.</summary>
    public static async Task<string> ReadAsync(Socket socket, Func<string, bool>? until = null)
    {
        var reply = new StringBuilder();
        var buffer = new byte[65536];
        while (until is null || !until(reply.ToString()))
        {
            var n = await socket.ReceiveAsync(buffer).WaitAsync(ReadBound);
            if (n == 0)
            {
                break;
            }

            reply.Append(Encoding.Latin1.GetString(buffer, 0, n));
        }

        return reply.ToString();
    }
}
