using System.Net;
using System.Net.Sockets;

namespace Replicator.Tests;

/// <summary>A TCP server on a loopback port chosen by the OS that echoes one connection: the far end of a CONNECT tunnel.</summary>
internal sealed class LoopbackEcho : IDisposable
{
    private readonly Socket _listener = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);

    public LoopbackEcho()
    {
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen();
        Port = ((IPEndPoint)_listener.LocalEndPoint!).Port;
        _ = Task.Run(EchoOneAsync);
    }

    public int Port { get; }

    public void Dispose() => _listener.Dispose();

    private async Task EchoOneAsync()
    {
        using var peer = await _listener.AcceptAsync();
        var buffer = new byte[1024];
        int n;
        while ((n = await peer.ReceiveAsync(buffer)) > 0)
        {
            await peer.SendAsync(buffer.AsMemory(0, n));
        }
    }
}
