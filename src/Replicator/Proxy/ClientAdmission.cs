using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Replicator.Fibers;
using Serilog;

namespace Replicator.Proxy;

/// <summary>
/// Who may hold a connection, decided when it is accepted, before a byte of it is read: a client outside --ip gets
/// 403 at once (it used to be answered only after a whole request head, so a flood of refused clients held
/// connections like anyone else), and one address may hold at most --max-client-connections connections (503 past
/// that), so that one host on the LAN cannot take every descriptor. The refusal is sent, the sending half shut, and
/// what the client still sends is read and dropped for a moment, so that it reads the answer instead of a reset.
/// </summary>
internal sealed class ClientAdmission
{
    private const int MaxDrained = 64 * 1024;
    private const int DrainBuffer = 4096;
    private static readonly TimeSpan s_warningPeriod = TimeSpan.FromMinutes(1);
    private static readonly TimeSpan s_drainTime = TimeSpan.FromSeconds(2);

    private readonly ClientAccess _access;
    private readonly int _maxPerAddress;
    private readonly ThrottledLog _warnings;
    private readonly ConcurrentDictionary<IPAddress, int> _open = new();

    public ClientAdmission(ClientAccess access, int maxPerAddress, TimeProvider clock)
    {
        _access = access;
        _maxPerAddress = maxPerAddress;
        _warnings = new ThrottledLog(clock, s_warningPeriod);
    }

    /// <summary>Open connections of <paramref name="address"/> (for tests and the status page).</summary>
    /// <summary>Connections admitted and not yet ended, all addresses together.</summary>
    public int OpenTotal => Volatile.Read(ref _openTotal);

    private int _openTotal;

    public int OpenConnections(IPAddress address) => _open.TryGetValue(address, out var count) ? count : 0;

    /// <summary>
    /// Admits a new connection, counted against its address until <see cref="Leave"/>: its address, or null when it
    /// is refused (outside --ip, or over --max-client-connections), with the answer to send it (<see cref="RefuseAsync"/>).
    /// No frame of this stays on an admitted connection (an idle one holds as little as the engine allows).
    /// </summary>
    public IPAddress? Admit(Socket client, out (int Status, string Reason) refusal)
    {
        refusal = default;
        var address = (client.RemoteEndPoint as IPEndPoint)?.Address;
        if (address is null || !_access.Allows(address))
        {
            Warn($"refused {address}", "Refused {Client}: not in the allowed clients (--ip)", address);
            refusal = (Blame.Of(FailedStep.NotAllowed).Status, $"client {address} is not allowed to use this proxy");
            return null;
        }

        var count = _open.AddOrUpdate(address, 1, static (_, open) => open + 1);
        Interlocked.Increment(ref _openTotal);
        if (_maxPerAddress > 0 && count > _maxPerAddress)
        {
            // Not counted while the refusal is answered: the refused do not hold up the admitted.
            Leave(address);
            Warn($"cap {address}", "Refused a connection of {Client}: it holds the most connections one client may (--max-client-connections)", address);
            refusal = (Blame.Of(FailedStep.OverCap).Status, $"client {address} has too many connections open");
            return null;
        }

        return address;
    }

    /// <summary>An admitted connection of <paramref name="address"/> has ended.</summary>
    public void Leave(IPAddress address)
    {
        Interlocked.Decrement(ref _openTotal);
        while (true)
        {
            var open = _open[address];
            if (open == 1 ? ((ICollection<KeyValuePair<IPAddress, int>>)_open).Remove(new(address, 1)) : _open.TryUpdate(address, open - 1, open))
            {
                return;
            }
        }
    }

    private void Warn(string cause, string template, IPAddress? address)
    {
        if (_warnings.IsDue(cause))
        {
            Log.Warning(template + " (repeats are not logged for a minute)", address?.ToString());
        }
    }

    /// <summary>Answers a refused connection with its status and reason, drains what it sent (briefly), and closes it.</summary>
    public static async ValueTask RefuseAsync(Fiber fiber, Socket client, (int Status, string Reason) refusal)
    {
        var (status, reason) = refusal;
        using (client)
        {
            try
            {
                await fiber.SendAsync(client, ProxyHeads.Error(status, reason, keepAlive: false), s_drainTime);
                client.Shutdown(SocketShutdown.Send);
                var buffer = new byte[DrainBuffer];
                var drained = 0;
                while (drained < MaxDrained && await fiber.ReceiveAsync(client, buffer, s_drainTime, interruptOnStop: true) is > 0 and var n)
                {
                    drained += n;
                }
            }
            catch (Exception e) when (e is SocketException or FiberTimeoutException or FiberStoppedException)
            {
                // The client went away, or kept sending: it had its answer.
            }
        }
    }
}
