using Replicator.Cache;

namespace Replicator.Tests.Cache;

public class PathMappingTests
{
    [Theory]
    [InlineData("deb.debian.org:80/debian/pool/h/hello.deb", "debian/pool/h/hello.deb")]
    [InlineData("ftp.de.debian.org:80/debian/dists/Release", "debian/dists/Release")]
    [InlineData("mirror.local:8080/deb/pool/x.deb", "debian/pool/x.deb")]
    [InlineData("deb.debian.org:80/debian2/pool/x.deb", "deb.debian.org:80/debian2/pool/x.deb")]
    [InlineData("deb.debian.org:80/debian", "deb.debian.org:80/debian")]
    [InlineData("deb.debian.org:8080/debian/x", "deb.debian.org:8080/debian/x")]
    public void Map_ReplacesAMatchingPrefixOnly(string path, string expected)
    {
        var mapping = new PathMapping([PathMapping.ParseAlias("debian:deb.debian.org/debian:FTP.de.debian.org/debian/:mirror.local:8080/deb")], flat: false);

        Assert.Equal(expected, mapping.Map(path));
    }

    [Theory]
    [InlineData("h:80/a/b/x.deb", "x.deb")]
    [InlineData("h:80/dir/%index", "%index")]
    [InlineData("h:80/q?x=1%2F2", "q?x=1%2F2")]
    public void Flat_KeepsTheLastName(string path, string expected)
    {
        Assert.Equal(expected, new PathMapping([], flat: true).Map(path));
    }

    [Theory]
    [InlineData("onlypath")]
    [InlineData("../up:h/x")]
    [InlineData(".replicator:h/x")]
    [InlineData("a/../b:h/x")]
    [InlineData("p:/nohost")]
    [InlineData("p:h:99999/x")]
    public void ParseAlias_BadValue_IsRefused(string value)
    {
        Assert.Throws<FormatException>(() => PathMapping.ParseAlias(value));
    }
}
