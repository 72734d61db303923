using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;

namespace Replicator.Proxy;

/// <summary>
/// Who may use the proxy (--ip): CIDR ranges (192.168.0.0/16, ::1/128), single addresses, or the original 3.0
/// wildcard form for IPv4 ('*' one or more digits, '?' one digit: 192.168.*.*). Without any, loopback only: a
/// proxy open to whoever reaches it is what the original 4.x was, and must not be again.
/// </summary>
internal sealed class ClientAccess
{
    private readonly List<Func<IPAddress, bool>> _rules;

    private ClientAccess(List<Func<IPAddress, bool>> rules)
    {
        _rules = rules;
    }

    public static ClientAccess LoopbackOnly { get; } = new([IPAddress.IsLoopback]);

    /// <summary>Parses --ip values; throws <see cref="FormatException"/> naming the bad one.</summary>
    public static ClientAccess Parse(IEnumerable<string> specs)
    {
        var rules = new List<Func<IPAddress, bool>>();
        foreach (var spec in specs)
        {
            rules.Add(ParseOne(spec.Trim()));
        }

        return rules.Count == 0 ? LoopbackOnly : new ClientAccess(rules);
    }

    public bool Allows(IPAddress address)
    {
        var client = address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
        return _rules.Exists(rule => rule(client));
    }

    private static Func<IPAddress, bool> ParseOne(string spec)
    {
        if (spec.Contains('*', StringComparison.Ordinal) || spec.Contains('?', StringComparison.Ordinal))
        {
            if (!Regex.IsMatch(spec, @"^([0-9?*]+\.){3}[0-9?*]+$"))
            {
                throw new FormatException($"'{spec}' is not an IPv4 wildcard pattern such as 192.168.*.*");
            }

            var pattern = new Regex("^" + Regex.Escape(spec).Replace(@"\*", "[0-9]+", StringComparison.Ordinal).Replace(@"\?", "[0-9]", StringComparison.Ordinal) + "$", RegexOptions.CultureInvariant);
            return address => address.AddressFamily == AddressFamily.InterNetwork && pattern.IsMatch(address.ToString());
        }

        var slash = spec.IndexOf('/', StringComparison.Ordinal);
        if (!IPAddress.TryParse(slash < 0 ? spec : spec[..slash], out var network))
        {
            throw new FormatException($"'{spec}' is not an address, a CIDR range or a wildcard pattern");
        }

        var bits = network.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;
        var prefix = bits;
        if (slash >= 0 && (!int.TryParse(spec[(slash + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out prefix) || prefix > bits))
        {
            throw new FormatException($"'{spec}' has a prefix length outside 0-{bits}");
        }

        var networkBytes = network.GetAddressBytes();
        return address => address.AddressFamily == network.AddressFamily && SamePrefix(address.GetAddressBytes(), networkBytes, prefix);
    }

    private static bool SamePrefix(byte[] address, byte[] network, int prefix)
    {
        for (var i = 0; i < address.Length && prefix > 0; i++, prefix -= 8)
        {
            var mask = prefix >= 8 ? 0xFF : (byte)(0xFF << (8 - prefix));
            if ((address[i] & mask) != (network[i] & mask))
            {
                return false;
            }
        }

        return true;
    }
}
