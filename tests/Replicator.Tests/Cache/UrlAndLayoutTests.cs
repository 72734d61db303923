using Replicator.Cache;
using Replicator.Http;

namespace Replicator.Tests.Cache;

public class UrlAndLayoutTests
{
    [Theory]
    [InlineData("http://Example.ORG/a/b", "example.org", 80, "/a/b", null)]
    [InlineData("http://h:8080", "h", 8080, "/", null)]
    [InlineData("http://h/a/./b/../c", "h", 80, "/a/c", null)]
    [InlineData("http://h/../../etc/passwd", "h", 80, "/etc/passwd", null)]
    [InlineData("http://h/%2e%2e/%2E%2e/x", "h", 80, "/x", null)]
    [InlineData("http://h/..%2f..%2fx", "h", 80, "/..%2F..%2Fx", null)]
    [InlineData("http://h/%7euser/%41b", "h", 80, "/~user/Ab", null)]
    [InlineData("http://h/a%2fb", "h", 80, "/a%2Fb", null)]
    [InlineData("http://h/d/..", "h", 80, "/", null)]
    [InlineData("http://h/p?q=1/2&r=%2f#frag", "h", 80, "/p", "q=1/2&r=%2F")]
    [InlineData("http://[::1]:81/x", "[::1]", 81, "/x", null)]
    public void ParseAbsolute_Normalises(string target, string host, int port, string path, string? query)
    {
        Assert.Equal(new RequestUrl(host, port, path, query), RequestUrl.ParseAbsolute(target));
    }

    [Theory]
    [InlineData("https://h/")]
    [InlineData("http://user:pw@h/")]
    [InlineData("http://h:0/")]
    [InlineData("http://h:99999/")]
    [InlineData("http:///x")]
    [InlineData("http://h/%")]
    [InlineData("http://h/%g1")]
    [InlineData("http://h%2f/")]
    [InlineData("http://[zz]/")]
    public void ParseAbsolute_Invalid_IsRefused(string target)
    {
        Assert.Throws<HttpParseException>(() => RequestUrl.ParseAbsolute(target));
    }

    [Theory]
    [InlineData("http://example.org/a/b")]
    [InlineData("http://example.org:8080/a?x=1&y")]
    [InlineData("https://example.org/secure?q")]
    [InlineData("https://example.org:80/odd")]
    public void WriteTo_WritesWhatToStringSays(string target)
    {
        var url = RequestUrl.ParseAbsolute(target, allowHttps: true);
        var written = new StringWriter();
        url.WriteTo(written);
        Assert.Equal(url.ToString(), written.ToString());
        Assert.Equal(target, written.ToString());
    }

    [Fact]
    public void Authority_KeepsANonDefaultPortOnly()
    {
        Assert.Equal("h:8080", RequestUrl.ParseAbsolute("http://h:8080/").Authority);
        Assert.Equal("h", RequestUrl.ParseAbsolute("http://h:80/").Authority);
    }

    [Theory]
    [InlineData("http://H:80/debian/pool/a.deb", "h:80/debian/pool/a.deb")]
    [InlineData("http://h/", "h:80/%index")]
    [InlineData("http://h/dir/", "h:80/dir/%index")]
    [InlineData("http://h/dir/?a=b", "h:80/dir/%index?a=b")]
    [InlineData("http://h/q?x=a/b&y=1", "h:80/q?x=a%2Fb&y=1")]
    [InlineData("http://h/%00x", "h:80/%00x")]
    public void RelativePath_FollowsTheLayout(string url, string expected)
    {
        Assert.Equal(expected, CacheLayout.RelativePath(RequestUrl.ParseAbsolute(url)));
    }

    [Theory]
    [InlineData("https://H/debian/a.deb", "https://h/debian/a.deb", "https/h:443/debian/a.deb")]
    [InlineData("https://h:8443/x", "https://h:8443/x", "https/h:8443/x")]
    [InlineData("https://h:443/", "https://h/", "https/h:443/%index")]
    public void HttpsUrls_AreKeptBelowTheirOwnDirectory(string url, string normalised, string expected)
    {
        var parsed = RequestUrl.ParseAbsolute(url, allowHttps: true);

        Assert.Equal(normalised, parsed.ToString());
        Assert.Equal(expected, CacheLayout.RelativePath(parsed));
        Assert.Throws<HttpParseException>(() => RequestUrl.ParseAbsolute(url)); // a proxied https request is CONNECT's
    }

    [Fact]
    public void RelativePath_EmptyMiddleSegment_CannotBeStored()
    {
        Assert.Null(CacheLayout.RelativePath(RequestUrl.ParseAbsolute("http://h/a//b")));
    }

    [Fact]
    public void RelativePath_OverlongName_IsShortenedWithAHashThatNoUrlProduces()
    {
        var longName = new string('n', 400);
        var path = CacheLayout.RelativePath(RequestUrl.ParseAbsolute($"http://h/{longName}"))!;
        var other = CacheLayout.RelativePath(RequestUrl.ParseAbsolute($"http://h/{longName}x"))!;

        var name = path.Split('/')[^1];
        Assert.True(name.Length <= 255);
        Assert.Contains("%hash-", name, StringComparison.Ordinal);
        Assert.NotEqual(path, other);
    }

    [Theory]
    [InlineData("%E2%82%AC", 200)] // the euro sign: 3 bytes in UTF-8
    [InlineData("%F0%9F%93%A6", 100)] // a package emoji: 4 bytes, two UTF-16 characters
    public void RelativePath_OverlongNameOfWideCharacters_FitsTheFileSystemInBytes(string character, int count)
    {
        var path = CacheLayout.RelativePath(RequestUrl.ParseAbsolute("http://h/" + string.Concat(Enumerable.Repeat(character, count))))!;

        var name = path.Split('/')[^1];
        Assert.InRange(System.Text.Encoding.UTF8.GetByteCount(name), 200, 255);
        Assert.False(char.IsHighSurrogate(name[name.IndexOf("%hash-", StringComparison.Ordinal) - 1]));
        var file = Path.Combine(Path.GetTempPath(), name);
        File.WriteAllText(file, "fits");
        File.Delete(file);
    }

    [Fact]
    public void RelativePath_OverlongPath_CannotBeStored()
    {
        var deep = string.Concat(Enumerable.Repeat("/" + new string('d', 200), 20));
        Assert.Null(CacheLayout.RelativePath(RequestUrl.ParseAbsolute($"http://h{deep}")));
    }
}
