using Replicator.Mirror;

namespace Replicator.Tests.Mirror;

/// <summary>The index pages of the servers people mirror from, as they write them (issue 15, point 1).</summary>
public sealed class DirectoryListingTests
{
    private static readonly Uri s_directory = new("http://mirror.example:8080/pub/");

    private static readonly string[] s_expected = ["http://mirror.example:8080/pub/docs/", "http://mirror.example:8080/pub/a%20b.txt", "http://mirror.example:8080/pub/file.deb"];

    public static TheoryData<string, string> Pages => new()
    {
        {
            "nginx autoindex", """
            <html>
            <head><title>Index of /pub/</title></head>
            <body>
            <h1>Index of /pub/</h1><hr><pre><a href="../">../</a>
            <a href="docs/">docs/</a>                                              01-Jan-2024 00:00                   -
            <a href="a%20b.txt">a b.txt</a>                                           01-Jan-2024 00:00                   5
            <a href="file.deb">file.deb</a>                                           01-Jan-2024 00:00                1024
            </pre><hr></body>
            </html>
            """
        },
        {
            "Apache mod_autoindex", """
            <!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 3.2 Final//EN">
            <html><head><title>Index of /pub</title></head><body>
            <h1>Index of /pub</h1>
            <table>
            <tr><th valign="top"><img src="/icons/blank.gif" alt="[ICO]"></th><th><a href="?C=N;O=D">Name</a></th><th><a href="?C=M;O=A">Last modified</a></th><th><a href="?C=S;O=A">Size</a></th></tr>
            <tr><th colspan="5"><hr></th></tr>
            <tr><td valign="top"><img src="/icons/back.gif" alt="[PARENTDIR]"></td><td><a href="/">Parent Directory</a></td><td>&nbsp;</td></tr>
            <tr><td valign="top"><img src="/icons/folder.gif" alt="[DIR]"></td><td><a href="docs/">docs/</a></td><td align="right">2024-01-01 00:00  </td></tr>
            <tr><td valign="top"><img src="/icons/text.gif" alt="[TXT]"></td><td><a href="a%20b.txt">a b.txt</a></td><td align="right">2024-01-01 00:00  </td></tr>
            <tr><td valign="top"><img src="/icons/unknown.gif" alt="[   ]"></td><td><a href="file.deb">file.deb</a></td><td align="right">2024-01-01 00:00  </td></tr>
            </table>
            <address>Apache/2.4.57 (Debian) Server at mirror.example Port 8080</address>
            </body></html>
            """
        },
        {
            "lighttpd mod_dirlisting", """
            <div class="list">
            <table summary="Directory Listing" cellpadding="0" cellspacing="0">
            <thead><tr><th class="n">Name</th><th class="m">Last Modified</th><th class="s">Size</th><th class="t">Type</th></tr></thead>
            <tbody>
            <tr class="d"><td class="n"><a href="../">..</a>/</td><td class="m">&nbsp;</td><td class="s">- &nbsp;</td><td class="t">Directory</td></tr>
            <tr class="d"><td class="n"><a href="docs/">docs</a>/</td><td class="m">2024-Jan-01 00:00:00</td><td class="s">- &nbsp;</td><td class="t">Directory</td></tr>
            <tr><td class="n"><a href="a%20b.txt">a b.txt</a></td><td class="m">2024-Jan-01 00:00:00</td><td class="s">0.1K</td><td class="t">text/plain</td></tr>
            <tr><td class="n"><a href="file.deb">file.deb</a></td><td class="m">2024-Jan-01 00:00:00</td><td class="s">1.0K</td><td class="t">application/octet-stream</td></tr>
            </tbody>
            </table>
            </div>
            """
        },
        {
            "Caddy file_server browse", """
            <header><h1><a href="/">mirror.example</a><a href="/pub/">pub</a>/</h1></header>
            <main><div class="listing"><table aria-describedby="summary">
            <thead><tr><th><a href="?sort=namedirfirst&order=desc" class="icon">Name</a></th><th><a href="?sort=size&order=asc">Size</a></th></tr></thead>
            <tbody>
            <tr><td><a href=".."><span class="name">Go up</span></a></td></tr>
            <tr class="file"><td><a href="./docs/"><span class="name">docs</span></a></td><td data-order="-1">&mdash;</td></tr>
            <tr class="file"><td><a href="./a%20b.txt"><span class="name">a b.txt</span></a></td><td data-order="5">5 B</td></tr>
            <tr class="file"><td><a href="./file.deb"><span class="name">file.deb</span></a></td><td data-order="1024">1.0 KiB</td></tr>
            </tbody></table></div></main>
            """
        },
        {
            "Python http.server", """
            <!DOCTYPE HTML>
            <html lang="en">
            <head><meta charset="utf-8"><title>Directory listing for /pub/</title></head>
            <body>
            <h1>Directory listing for /pub/</h1>
            <hr>
            <ul>
            <li><a href="a%20b.txt">a b.txt</a></li>
            <li><a href="docs/">docs/</a></li>
            <li><a href="file.deb">file.deb</a></li>
            <li><a href="http://elsewhere.example/file.deb">elsewhere</a></li>
            <li><a href="docs/deeper/x.deb">deeper, linked directly</a></li>
            <li><a href="file.deb#top">file.deb again</a></li>
            </ul>
            <hr>
            </body>
            </html>
            """
        },
    };

    [Theory]
    [MemberData(nameof(Pages))]
    public void Entries_AreTheFilesAndDirectoriesOneLevelDown(string server, string html)
    {
        var entries = DirectoryListing.Entries(html, s_directory).Select(entry => entry.AbsoluteUri).Order(StringComparer.Ordinal);

        Assert.True(s_expected.Order(StringComparer.Ordinal).SequenceEqual(entries), $"{server}: {string.Join(", ", entries)}");
    }
}
