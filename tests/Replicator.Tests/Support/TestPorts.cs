using System.Net;
using System.Net.Sockets;

namespace Replicator.Tests;

internal static class TestPorts
{
    /// <summary>A loopback port above 1024 that nothing listens on (the OS just gave it out and it was closed).</summary>
    public static int Closed()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }
}
