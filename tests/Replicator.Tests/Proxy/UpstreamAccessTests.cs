using System.Net;
using Replicator.Proxy;

namespace Replicator.Tests.Proxy;

public class UpstreamAccessTests
{
    private static readonly IPAddress s_own = IPAddress.Parse("192.0.2.10");

    [Theory]
    [InlineData("127.0.0.1", false)]
    [InlineData("127.8.9.10", false)]
    [InlineData("::1", false)]
    [InlineData("::ffff:127.0.0.1", false)]
    [InlineData("169.254.169.254", false)]
    [InlineData("fe80::1", false)]
    [InlineData("0.0.0.0", false)]
    [InlineData("::", false)]
    [InlineData("224.0.0.1", false)]
    [InlineData("192.0.2.10", false)]
    [InlineData("192.168.1.20", true)]
    [InlineData("10.0.0.1", true)]
    [InlineData("203.0.113.7", true)]
    [InlineData("2001:db8::1", true)]
    public void Default_RefusesInternalAndOwnAddresses(string address, bool allowed)
    {
        var access = new UpstreamAccess([], [], () => new HashSet<IPAddress> { s_own });

        Assert.Equal(allowed, access.Allows(IPAddress.Parse(address)));
    }

    [Fact]
    public void AllowTo_OpensItsRangeOnly()
    {
        var access = new UpstreamAccess([AddressRange.Parse("127.0.0.0/8")], [], () => new HashSet<IPAddress>());

        Assert.True(access.Allows(IPAddress.Parse("127.0.0.1")));
        Assert.True(access.Allows(IPAddress.Parse("::ffff:127.0.0.1")));
        Assert.False(access.Allows(IPAddress.IPv6Loopback));
        Assert.False(access.Allows(IPAddress.Parse("169.254.169.254")));
    }

    [Theory]
    [InlineData(80, true)]
    [InlineData(443, true)]
    [InlineData(21, true)]
    [InlineData(777, true)]
    [InlineData(1025, true)]
    [InlineData(65535, true)]
    [InlineData(22, false)]
    [InlineData(25, false)]
    [InlineData(1024, false)]
    [InlineData(8, false)]
    public void Ports_FollowSquidsSafePorts(int port, bool allowed)
    {
        Assert.Equal(allowed, UpstreamAccess.Default.AllowsPort(port));
    }

    [Fact]
    public void AllowPort_WidensThePortList()
    {
        var access = new UpstreamAccess([], [UpstreamAccess.ParsePortRange("22"), UpstreamAccess.ParsePortRange("600-700")]);

        Assert.True(access.AllowsPort(22));
        Assert.True(access.AllowsPort(650));
        Assert.False(access.AllowsPort(25));
    }

    [Theory]
    [InlineData("0")]
    [InlineData("70000")]
    [InlineData("9-8")]
    [InlineData("x")]
    [InlineData("-5")]
    public void ParsePortRange_Refuses(string spec)
    {
        Assert.Throws<FormatException>(() => UpstreamAccess.ParsePortRange(spec));
    }

    [Theory]
    [InlineData("1.2.3.4", true)]
    [InlineData("1.2.3", false)]
    [InlineData("10", false)]
    [InlineData("0x7f.0.0.1", false)]
    [InlineData("127.000.0.1", false)]
    [InlineData("010.0.0.1", false)]
    [InlineData("256.0.0.1", false)]
    [InlineData("::1", true)]
    [InlineData("[fe80::1]", true)]
    [InlineData("1.2.3.4.5", false)]
    public void TryParseAddress_TakesDottedQuadsAndIPv6Only(string text, bool valid)
    {
        Assert.Equal(valid, AddressRange.TryParseAddress(text, out _));
    }
}
