using System.Net;
using Replicator.Proxy;

namespace Replicator.Tests.Proxy;

public class ClientAccessTests
{
    [Theory]
    [InlineData("192.168.0.0/16", "192.168.44.7", true)]
    [InlineData("192.168.0.0/16", "192.169.0.1", false)]
    [InlineData("10.1.2.3", "10.1.2.3", true)]
    [InlineData("10.1.2.3", "10.1.2.4", false)]
    [InlineData("0.0.0.0/0", "203.0.113.9", true)]
    [InlineData("192.168.*.*", "192.168.100.1", true)]
    [InlineData("192.168.*.*", "192.167.100.1", false)]
    [InlineData("10.0.0.?", "10.0.0.7", true)]
    [InlineData("10.0.0.?", "10.0.0.17", false)]
    [InlineData("::1/128", "::1", true)]
    [InlineData("fd00::/8", "fd12::1", true)]
    [InlineData("fd00::/8", "fe80::1", false)]
    [InlineData("192.168.0.0/16", "::ffff:192.168.1.1", true)]
    [InlineData("::1/128", "127.0.0.1", false)]
    public void Allows_FollowsTheSpec(string spec, string client, bool allowed)
    {
        Assert.Equal(allowed, ClientAccess.Parse([spec]).Allows(IPAddress.Parse(client)));
    }

    [Fact]
    public void NoSpec_AllowsLoopbackOnly()
    {
        var access = ClientAccess.Parse([]);

        Assert.True(access.Allows(IPAddress.Parse("127.0.0.2")));
        Assert.True(access.Allows(IPAddress.IPv6Loopback));
        Assert.False(access.Allows(IPAddress.Parse("192.168.1.1")));
    }

    [Theory]
    [InlineData("not-an-address")]
    [InlineData("10.0.0.0/33")]
    [InlineData("::/129")]
    [InlineData("10.*")]
    [InlineData("10.0.0.0/x")]
    public void Parse_BadSpec_IsRefused(string spec)
    {
        Assert.Throws<FormatException>(() => ClientAccess.Parse([spec]));
    }
}
