using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Replicator.Fibers;
using Replicator.Http;

namespace Replicator.Proxy;

/// <summary>How an https origin's certificate is checked (see <see cref="UpstreamTls"/>).</summary>
internal sealed record TlsCheck(System.Net.Security.RemoteCertificateValidationCallback? Validate);

/// <summary>A connection to an origin server, kept for reuse while it stays valid.</summary>
internal sealed class UpstreamConnection : IDisposable
{
    public UpstreamConnection(string key, Socket socket, UpstreamPool pool)
    {
        Key = key;
        Connection = new BufferedConnection(socket);
        Pool = pool;
    }

    /// <summary>The pool (of the loop that opened it) it goes back to when reusable.</summary>
    public UpstreamPool Pool { get; }

    public string Key { get; }

    public BufferedConnection Connection { get; }

    /// <summary>True when it came from the pool: a failure before any response byte may be retried once.</summary>
    public bool Reused { get; set; }

    public long IdleSince { get; set; }

    public void Dispose() => Connection.Dispose();
}

/// <summary>
/// Opens upstream connections and keeps idle ones per host:port for reuse. One pool per loop (held by
/// <see cref="OriginClient"/>): a fiber never leaves its loop, so neither do its connections, and the pool needs no lock. Names are resolved on the thread
/// pool (never on the loop) and remembered for a minute.
/// </summary>
internal sealed class UpstreamPool
{
    private const int MaxIdlePerHost = 16;
    private static readonly TimeSpan s_idleLimit = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan s_dnsLifetime = TimeSpan.FromMinutes(1);
    private static readonly ConcurrentDictionary<string, (IPAddress[] Addresses, long Expires)> s_dns = new(StringComparer.OrdinalIgnoreCase);

    private readonly Dictionary<string, Stack<UpstreamConnection>> _idle = new(StringComparer.Ordinal);

    public static string KeyOf(string host, int port) => $"{host}:{port}";

    /// <summary>A pooled connection to host:port that still looks alive, or a new one.</summary>
    /// <param name="access">The address rules for a connection on a client's behalf; null for the configured parent proxy.</param>
    /// <param name="tls">How to check the certificate when the connection runs TLS (an https origin); null for plain http.</param>
    public async ValueTask<UpstreamConnection> GetAsync(Fiber fiber, string host, int port, TimeSpan timeout, UpstreamAccess? access, TlsCheck? tls = null)
    {
        var key = tls is null ? KeyOf(host, port) : "tls:" + KeyOf(host, port);
        var now = Environment.TickCount64;
        if (_idle.TryGetValue(key, out var stack))
        {
            while (stack.TryPop(out var pooled))
            {
                // Readable while idle means the server closed it (or sent garbage): not reusable.
                if (now - pooled.IdleSince < s_idleLimit.TotalMilliseconds && !pooled.Connection.Socket.Poll(0, SelectMode.SelectRead))
                {
                    pooled.Reused = true;
                    return pooled;
                }

                pooled.Dispose();
            }
        }

        var connection = new UpstreamConnection(key, await ConnectAsync(fiber, host, port, timeout, access), this);
        if (tls is not null)
        {
            try
            {
                await connection.Connection.StartTlsAsync(fiber, host, timeout, tls.Validate);
            }
            catch
            {
                connection.Dispose();
                throw;
            }
        }

        return connection;
    }

    public void Return(UpstreamConnection connection)
    {
        if (!_idle.TryGetValue(connection.Key, out var stack))
        {
            _idle[connection.Key] = stack = new Stack<UpstreamConnection>();
        }

        if (stack.Count >= MaxIdlePerHost || connection.Connection.BufferedCount > 0)
        {
            connection.Dispose();
            return;
        }

        connection.IdleSince = Environment.TickCount64;
        stack.Push(connection);
    }

    /// <summary>
    /// Connects to the first address of <paramref name="host"/> that answers. Each address is checked against
    /// <paramref name="access"/> right before it is tried (after resolution: a public name may resolve to 127.0.0.1);
    /// when every address is refused, the request is answered 403.
    /// </summary>
    public static async ValueTask<Socket> ConnectAsync(Fiber fiber, string host, int port, TimeSpan timeout, UpstreamAccess? access)
    {
        var addresses = await ResolveAsync(fiber, host, timeout);
        Exception? last = null;
        foreach (var address in addresses)
        {
            if (access is not null && !access.Allows(address))
            {
                last ??= new ProxyException(FailedStep.NotAllowed, UpstreamAccess.RefusedAddress(KeyOf(host, port), address));
                continue;
            }

            var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await fiber.ConnectAsync(socket, new IPEndPoint(address, port), timeout);
                return socket;
            }
            catch (Exception e) when (e is SocketException or FiberTimeoutException)
            {
                socket.Dispose();
                last = e;
            }
        }

        throw last ?? new SocketException((int)SocketError.HostNotFound);
    }

    private static async ValueTask<IPAddress[]> ResolveAsync(Fiber fiber, string host, TimeSpan timeout)
    {
        if (IPAddress.TryParse(host.Trim('[', ']'), out var literal))
        {
            return [literal];
        }

        if (s_dns.TryGetValue(host, out var cached) && cached.Expires > Environment.TickCount64)
        {
            return cached.Addresses;
        }

        var addresses = await fiber.RunBlockingAsync(() => Dns.GetHostAddresses(host), timeout);
        if (addresses.Length == 0)
        {
            throw new SocketException((int)SocketError.HostNotFound);
        }

        s_dns[host] = (addresses, Environment.TickCount64 + (long)s_dnsLifetime.TotalMilliseconds);
        return addresses;
    }
}
