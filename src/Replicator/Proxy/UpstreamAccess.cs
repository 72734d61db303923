using System.Globalization;
using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;

namespace Replicator.Proxy;

/// <summary>
/// Where the proxy may connect on a client's behalf. A forward proxy open to a LAN is otherwise a way into every
/// service bound to its own loopback or to a link-local address (cloud metadata at 169.254.169.254): the classic
/// SSRF. By default, as squid's shipped configuration does, it refuses
/// <list type="bullet">
/// <item>loopback, link-local, unspecified and multicast addresses, and the addresses of this machine's own
/// interfaces, checked on every address a name resolves to, right before connecting to it;</item>
/// <item>ports outside squid's Safe_ports (80, 21, 443, 70, 210, 280, 488, 591, 777, 1025-65535).</item>
/// </list>
/// <c>--allow-to CIDR</c> opens an address range (a loopback origin needs <c>--allow-to 127.0.0.0/8</c>) and
/// <c>--allow-port PORT[-PORT]</c> a port range. CONNECT keeps its own port list (--connect-port) and gets the
/// address rules.
/// </summary>
internal sealed class UpstreamAccess
{
    private static readonly (int Low, int High)[] s_safePorts = [(80, 80), (21, 21), (443, 443), (70, 70), (210, 210), (280, 280), (488, 488), (591, 591), (777, 777), (1025, 65535)];

    private static readonly AddressRange[] s_internal =
    [
        AddressRange.Parse("127.0.0.0/8"), AddressRange.Parse("::1/128"),
        AddressRange.Parse("169.254.0.0/16"), AddressRange.Parse("fe80::/10"),
        AddressRange.Parse("0.0.0.0/8"), AddressRange.Parse("::/128"),
        AddressRange.Parse("224.0.0.0/4"), AddressRange.Parse("ff00::/8"),
        AddressRange.Parse("255.255.255.255/32"),
    ];

    private static (IReadOnlySet<IPAddress> Addresses, long Expires) s_own = (new HashSet<IPAddress>(), 0);

    private readonly IReadOnlyList<AddressRange> _allowed;
    private readonly IReadOnlyList<(int Low, int High)> _ports;
    private readonly Func<IReadOnlySet<IPAddress>> _ownAddresses;

    public UpstreamAccess(IReadOnlyList<AddressRange> allowed, IReadOnlyList<(int Low, int High)> extraPorts, Func<IReadOnlySet<IPAddress>>? ownAddresses = null)
    {
        _allowed = allowed;
        _ports = [.. s_safePorts, .. extraPorts];
        _ownAddresses = ownAddresses ?? OwnAddresses;
    }

    /// <summary>The default rules: nothing internal, squid's safe ports.</summary>
    public static UpstreamAccess Default { get; } = new([], []);

    public IReadOnlyList<AddressRange> AllowedRanges => _allowed;

    /// <summary>Parses one --allow-port value: PORT or LOW-HIGH; throws <see cref="FormatException"/>.</summary>
    public static (int Low, int High) ParsePortRange(string spec)
    {
        var dash = spec.IndexOf('-', StringComparison.Ordinal);
        var lowText = dash < 0 ? spec : spec[..dash];
        var highText = dash < 0 ? spec : spec[(dash + 1)..];
        if (!int.TryParse(lowText, NumberStyles.None, CultureInfo.InvariantCulture, out var low)
            || !int.TryParse(highText, NumberStyles.None, CultureInfo.InvariantCulture, out var high)
            || low is < 1 or > 65535 || high is < 1 or > 65535 || low > high)
        {
            throw new FormatException($"'{spec}' is not a port or a port range such as 8000-8999 (1-65535)");
        }

        return (low, high);
    }

    /// <summary>Whether a request may go to this port (CONNECT has its own list).</summary>
    public bool AllowsPort(int port)
    {
        foreach (var (low, high) in _ports)
        {
            if (port >= low && port <= high)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Whether the proxy may connect to this address.</summary>
    public bool Allows(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        foreach (var range in _allowed)
        {
            if (range.Contains(address))
            {
                return true;
            }
        }

        foreach (var range in s_internal)
        {
            if (range.Contains(address))
            {
                return false;
            }
        }

        return !_ownAddresses().Contains(address);
    }

    /// <summary>The addresses of this machine's interfaces, read again at most every few seconds (they change).</summary>
    private static IReadOnlySet<IPAddress> OwnAddresses()
    {
        var cached = s_own;
        if (cached.Expires > Environment.TickCount64)
        {
            return cached.Addresses;
        }

        var addresses = new HashSet<IPAddress>();
        try
        {
            foreach (var nic in NetworkInterface.GetAllNetworkInterfaces())
            {
                foreach (var unicast in nic.GetIPProperties().UnicastAddresses)
                {
                    var address = unicast.Address;
                    addresses.Add(address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address);
                }
            }
        }
        catch (NetworkInformationException)
        {
            // Without the list, the loopback and link-local rules still hold.
        }

        s_own = (addresses, Environment.TickCount64 + 5000);
        return addresses;
    }

    /// <summary>The one-line reason for a refused address.</summary>
    public static string RefusedAddress(string upstream, IPAddress address) =>
        $"{upstream} is at {address}, an internal address this proxy does not reach (--allow-to opens a range)";

    public static string RefusedPort(int port) => $"port {port} is not one this proxy reaches (--allow-port opens a port)";
}
