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

        var range = AddressRange.Parse(spec);
        return range.Contains;
    }
}
