using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;

namespace Replicator.Proxy;

/// <summary>
/// An address range written as CIDR (10.0.0.0/8, fd00::/8) or a single address, for --ip and --allow-to. Addresses
/// are parsed strictly: an IPv4 address is a dotted quad, never one of inet_aton's older forms ("1.2.3" would be
/// 1.2.0.3, "10" would be 0.0.0.10), which are a classic way to slip an unintended address past a rule.
/// </summary>
internal sealed partial class AddressRange
{
    private readonly byte[] _network;
    private readonly int _prefix;
    private readonly AddressFamily _family;

    private AddressRange(IPAddress network, int prefix)
    {
        _network = network.GetAddressBytes();
        _prefix = prefix;
        _family = network.AddressFamily;
        Text = $"{network}/{prefix}";
    }

    public string Text { get; }

    public static AddressRange Loopback4 { get; } = Parse("127.0.0.0/8");

    public static AddressRange Loopback6 { get; } = Parse("::1/128");

    /// <summary>Parses a range; throws <see cref="FormatException"/> saying what is wrong.</summary>
    public static AddressRange Parse(string spec)
    {
        var slash = spec.IndexOf('/', StringComparison.Ordinal);
        if (!TryParseAddress(slash < 0 ? spec : spec[..slash], out var network))
        {
            throw new FormatException($"'{spec}' is not an address or a CIDR range (a dotted quad or an IPv6 address, with an optional /bits)");
        }

        var bits = network.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;
        var prefix = bits;
        if (slash >= 0 && (!int.TryParse(spec[(slash + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out prefix) || prefix > bits))
        {
            throw new FormatException($"'{spec}' has a prefix length outside 0-{bits}");
        }

        return new AddressRange(network, prefix);
    }

    /// <summary>A dotted-quad IPv4 address or an IPv6 address (brackets allowed); nothing else.</summary>
    public static bool TryParseAddress(string text, out IPAddress address)
    {
        address = IPAddress.None;
        text = text.Trim();
        if (text.StartsWith('[') && text.EndsWith(']'))
        {
            text = text[1..^1];
        }

        if (text.Contains(':', StringComparison.Ordinal))
        {
            return IPAddress.TryParse(text, out address!) && address.AddressFamily == AddressFamily.InterNetworkV6;
        }

        var match = DottedQuad().Match(text);
        if (!match.Success)
        {
            return false;
        }

        var bytes = new byte[4];
        for (var i = 0; i < 4; i++)
        {
            var part = match.Groups[i + 1].Value;
            if (!byte.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out bytes[i]) || (part.Length > 1 && part[0] == '0'))
            {
                return false; // over 255, or a leading zero (octal to inet_aton)
            }
        }

        address = new IPAddress(bytes);
        return true;
    }

    /// <summary>Whether the address is in the range; an IPv4-mapped IPv6 address counts as its IPv4 address.</summary>
    public bool Contains(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        if (address.AddressFamily != _family)
        {
            return false;
        }

        var bytes = address.GetAddressBytes();
        var prefix = _prefix;
        for (var i = 0; i < bytes.Length && prefix > 0; i++, prefix -= 8)
        {
            var mask = prefix >= 8 ? 0xFF : (byte)(0xFF << (8 - prefix));
            if ((bytes[i] & mask) != (_network[i] & mask))
            {
                return false;
            }
        }

        return true;
    }

    public override string ToString() => Text;

    [GeneratedRegex(@"^([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})$", RegexOptions.CultureInvariant)]
    private static partial Regex DottedQuad();
}
