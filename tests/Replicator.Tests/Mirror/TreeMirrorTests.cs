namespace Replicator.Tests.Mirror;

/// <summary>
/// <c>replicator mirror http://host/path/</c> against a real server's directory listings (issue 15, point 1),
/// through the real program: everything below the start lands where a proxied request puts it, nothing above it,
/// a second run downloads nothing again, and --delete removes what the server no longer lists.
/// </summary>
public sealed class TreeMirrorTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("replicator-mirror-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Served(string path, byte[] body)
    {
        var full = Path.Combine(_dir, "www", path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        File.WriteAllBytes(full, body);
        return full;
    }

    private Task<(int ExitCode, string Stdout, string Stderr)> MirrorAsync(params string[] args) =>
        ReplicatorProcess.RunToEndAsync(["mirror", .. args, "--root", Path.Combine(_dir, "cache"), "--allow-to", "127.0.0.0/8"]);

    [Fact]
    public async Task Mirror_FetchesTheTreeBelowTheStart_OnceOnly_AndDeleteFollowsTheServer()
    {
        Assert.True(PythonHttpServer.Exists, "python3 is needed (CI installs it)");
        var files = new Dictionary<string, byte[]>
        {
            ["pub/a.txt"] = "alpha\n"u8.ToArray(),
            ["pub/with space.txt"] = "spaced\n"u8.ToArray(),
            ["pub/docs/b.bin"] = TestBodies.Random(1, 300_000),
            ["pub/docs/deep/c.txt"] = "deep\n"u8.ToArray(),
        };
        foreach (var (path, body) in files)
        {
            Served(path, body);
        }

        Served("pub/skip.iso", "excluded"u8.ToArray());
        Served("outside/secret.txt", "above the start"u8.ToArray());
        using var server = await PythonHttpServer.StartAsync(Path.Combine(_dir, "www"));
        var tree = Path.Combine(_dir, "cache", $"127.0.0.1:{server.Port}");

        var (exit, stdout, stderr) = await MirrorAsync(server.Url("/pub/"), "--exclude", "*.iso", "--jobs", "3");

        Assert.True(exit == 0, stdout + stderr);
        foreach (var (path, body) in files)
        {
            Assert.Equal(body, File.ReadAllBytes(Path.Combine(tree, path.Replace(" ", "%20", StringComparison.Ordinal))));
        }

        Assert.False(File.Exists(Path.Combine(tree, "pub/skip.iso")));
        Assert.False(Directory.Exists(Path.Combine(tree, "outside")));
        Assert.Contains("4 files: 4 downloaded", stdout, StringComparison.Ordinal);

        // Again: every file is checked (If-Modified-Since), none downloaded.
        (exit, stdout, _) = await MirrorAsync(server.Url("/pub/"), "--exclude", "*.iso");
        Assert.Equal(0, exit);
        Assert.Contains("4 files: 0 downloaded (0 B), 4 already complete, 0 failed", stdout, StringComparison.Ordinal);

        // The server drops a file and a directory: --delete follows, within what it read (--max-depth keeps deep/).
        File.Delete(Path.Combine(_dir, "www", "pub/a.txt"));
        (exit, stdout, _) = await MirrorAsync(server.Url("/pub/"), "--exclude", "*.iso", "--delete", "--max-depth", "1");
        Assert.Equal(0, exit);
        Assert.False(File.Exists(Path.Combine(tree, "pub/a.txt")));
        Assert.True(File.Exists(Path.Combine(tree, "pub/docs/deep/c.txt")));
        Directory.Delete(Path.Combine(_dir, "www", "pub/docs/deep"), recursive: true);
        (exit, stdout, _) = await MirrorAsync(server.Url("/pub/"), "--exclude", "*.iso", "--delete");
        Assert.Equal(0, exit);
        Assert.Contains("deleted ", stdout, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(tree, "pub/docs/deep/c.txt")));
        Assert.True(File.Exists(Path.Combine(tree, "pub/docs/b.bin")));
    }

    /// <summary>
    /// Puts <paramref name="files"/> (paths below /tree/) on <paramref name="origin"/> with a listing page for every
    /// directory, written as nginx's autoindex or Apache's mod_autoindex write theirs.
    /// </summary>
    private static void ServeTree(TestOrigin origin, Dictionary<string, byte[]> files, bool apache)
    {
        var directories = new SortedSet<string>(StringComparer.Ordinal) { string.Empty };
        foreach (var path in files.Keys)
        {
            for (var slash = path.IndexOf('/'); slash >= 0; slash = path.IndexOf('/', slash + 1))
            {
                directories.Add(path[..(slash + 1)]);
            }

            origin.Files[$"/tree/{path}"] = new OriginFile(files[path], LastModified: new DateTimeOffset(2024, 1, 1, 0, 0, 0, TimeSpan.Zero));
        }

        foreach (var directory in directories)
        {
            var children = files.Keys.Concat(directories)
                .Where(path => path.Length > directory.Length && path.StartsWith(directory, StringComparison.Ordinal))
                .Select(path => path[directory.Length..])
                .Where(rest => rest.IndexOf('/') is var slash && (slash < 0 || slash == rest.Length - 1))
                .Order(StringComparer.Ordinal);
            var html = new System.Text.StringBuilder();
            if (apache)
            {
                html.Append($"<html><head><title>Index of /tree/{directory}</title></head><body><h1>Index of /tree/{directory}</h1><table>")
                    .Append("<tr><th><a href=\"?C=N;O=D\">Name</a></th><th><a href=\"?C=M;O=A\">Last modified</a></th></tr>")
                    .Append("<tr><td><a href=\"/tree/\">Parent Directory</a></td></tr>");
                foreach (var child in children)
                {
                    html.Append($"<tr><td><a href=\"{Uri.EscapeDataString(child.TrimEnd('/'))}{(child.EndsWith('/') ? "/" : string.Empty)}\">{child}</a></td><td>2024-01-01 00:00</td></tr>");
                }

                html.Append("</table></body></html>");
            }
            else
            {
                html.Append($"<html>\n<head><title>Index of /tree/{directory}</title></head>\n<body>\n<h1>Index of /tree/{directory}</h1><hr><pre><a href=\"../\">../</a>\n");
                foreach (var child in children)
                {
                    html.Append($"<a href=\"{Uri.EscapeDataString(child.TrimEnd('/'))}{(child.EndsWith('/') ? "/" : string.Empty)}\">{child}</a>    01-Jan-2024 00:00    -\n");
                }

                html.Append("</pre><hr></body>\n</html>\n");
            }

            origin.Files[$"/tree/{directory}"] = new OriginFile(System.Text.Encoding.UTF8.GetBytes(html.ToString()), "text/html");
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ATreeListedTheNginxOrApacheWay_LandsByteExact(bool apache)
    {
        await using var origin = await TestOrigin.StartAsync();
        var files = Enumerable.Range(0, 30).ToDictionary(i => $"d{i % 3}/sub{i % 2}/file{i}.bin", i => TestBodies.Random(i, 100 + (i * 997)));
        files["top.txt"] = "top"u8.ToArray();
        ServeTree(origin, files, apache);

        var (exit, stdout, stderr) = await MirrorAsync(origin.Url("/tree/"), "--jobs", "6");

        Assert.True(exit == 0, stdout + stderr);
        Assert.Contains("31 files: 31 downloaded", stdout, StringComparison.Ordinal);
        foreach (var (path, body) in files)
        {
            Assert.Equal(body, File.ReadAllBytes(Path.Combine(_dir, "cache", $"127.0.0.1:{origin.Port}", "tree", path)));
        }

        Assert.All(files.Keys, path => Assert.Equal(1, origin.CountRequests($"/tree/{path}")));
    }

    [Fact]
    public async Task AnHttpsTree_IsMirroredOverTls_WhereTheProxyKeepsHttps()
    {
        using var certificates = new TestCertificates();
        await using var origin = await TestOrigin.StartAsync(certificates.Server);
        var files = new Dictionary<string, byte[]> { ["a.txt"] = "over tls"u8.ToArray(), ["d/b.bin"] = TestBodies.Random(5, 70_000) };
        ServeTree(origin, files, apache: false);
        var authority = certificates.WriteAuthorityPem(_dir);

        var (exit, stdout, stderr) = await MirrorAsync($"https://127.0.0.1:{origin.Port}/tree/", "--ca-file", authority);

        Assert.True(exit == 0, stdout + stderr);
        Assert.Contains("2 files: 2 downloaded", stdout, StringComparison.Ordinal);
        foreach (var (path, body) in files)
        {
            Assert.Equal(body, File.ReadAllBytes(Path.Combine(_dir, "cache", "https", $"127.0.0.1:{origin.Port}", "tree", path)));
        }

        (exit, stdout, _) = await MirrorAsync($"https://127.0.0.1:{origin.Port}/tree/", "--ca-file", authority);
        Assert.Equal(0, exit);
        Assert.Contains("2 files: 0 downloaded (0 B), 2 already complete", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AFileTheOriginLetsBeServedStale_IsStillBroughtUpToDate()
    {
        // stale-while-revalidate lets a cache answer with the stale copy and ask the origin behind the client's back;
        // the mirror wants what the origin has now, and its run may end before any revalidation behind its back.
        await using var origin = await TestOrigin.StartAsync();
        ServeTree(origin, new Dictionary<string, byte[]> { ["s.txt"] = "first"u8.ToArray() }, apache: false);
        origin.Files["/tree/s.txt"] = new OriginFile("first"u8.ToArray(), CacheControl: "max-age=0, stale-while-revalidate=600", ETag: "\"1\"");
        var (exit, stdout, stderr) = await MirrorAsync(origin.Url("/tree/"));
        Assert.True(exit == 0, stdout + stderr);

        origin.Files["/tree/s.txt"] = new OriginFile("second"u8.ToArray(), CacheControl: "max-age=0, stale-while-revalidate=600", ETag: "\"2\"");
        (exit, stdout, stderr) = await MirrorAsync(origin.Url("/tree/"));

        Assert.True(exit == 0, stdout + stderr);
        Assert.Contains("1 files: 1 downloaded", stdout, StringComparison.Ordinal);
        Assert.Equal("second"u8.ToArray(), File.ReadAllBytes(Path.Combine(_dir, "cache", $"127.0.0.1:{origin.Port}", "tree", "s.txt")));
    }

    [Fact]
    public async Task ASlowListing_DoesNotHoldUpItsSiblings()
    {
        await using var origin = await TestOrigin.StartAsync();
        ServeTree(origin, new Dictionary<string, byte[]> { ["d0/a.bin"] = "a"u8.ToArray(), ["d1/b.bin"] = "b"u8.ToArray() }, apache: false);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var slow = origin.Files["/tree/d0/"];
        origin.Files["/tree/d0/"] = slow with { PauseAt = 10, Resume = release.Task };

        // A --timeout longer than the wait below: a walk that read one listing at a time would still be waiting.
        var mirror = MirrorAsync(origin.Url("/tree/"), "--timeout", "60");
        try
        {
            await origin.WaitForRequestsAsync("/tree/d1/", 1);
            await origin.WaitForRequestsAsync("/tree/d1/b.bin", 1);
        }
        finally
        {
            release.TrySetResult();
        }

        var (exit, stdout, stderr) = await mirror;
        Assert.True(exit == 0, stdout + stderr);
        Assert.Equal("a"u8.ToArray(), File.ReadAllBytes(Path.Combine(_dir, "cache", $"127.0.0.1:{origin.Port}", "tree", "d0", "a.bin")));
    }

    [Fact]
    public async Task IncludeAndMaxFileSize_ChooseTheFiles_AndABadArgumentIsOneLine()
    {
        Assert.True(PythonHttpServer.Exists, "python3 is needed (CI installs it)");
        Served("pub/x.deb", TestBodies.Random(2, 2000));
        Served("pub/big.deb", TestBodies.Random(3, 200_000));
        Served("pub/readme.txt", "read me"u8.ToArray());
        using var server = await PythonHttpServer.StartAsync(Path.Combine(_dir, "www"));
        var tree = Path.Combine(_dir, "cache", $"127.0.0.1:{server.Port}");

        var (exit, stdout, _) = await MirrorAsync(server.Url("/pub/"), "--include", "*.deb", "--max-file-size", "100K");

        Assert.Equal(0, exit);
        Assert.True(File.Exists(Path.Combine(tree, "pub/x.deb")));
        Assert.False(File.Exists(Path.Combine(tree, "pub/big.deb")));
        Assert.False(File.Exists(Path.Combine(tree, "pub/readme.txt")));
        Assert.Contains("over --max-file-size", stdout, StringComparison.Ordinal);

        (exit, _, var stderr) = await MirrorAsync("ftp://example.org/pub/");
        Assert.Equal(2, exit);
        Assert.Equal("replicator: mirror: 'ftp://example.org/pub/' is not an http:// or https:// URL", stderr.Trim());
        (exit, _, stderr) = await MirrorAsync(server.Url("/pub/"), "--max-file-size", "huge");
        Assert.Equal(2, exit);
        Assert.StartsWith("replicator: --max-file-size: 'huge' is not a size", stderr.Trim(), StringComparison.Ordinal);
    }
    [Fact]
    public async Task DryRun_ListsWhatWouldBeFetchedAndDeleted_WithSizes_AndStoresNothing()
    {
        Assert.True(PythonHttpServer.Exists, "python3 is needed (CI installs it)");
        Served("pub/a.txt", "alpha\n"u8.ToArray());
        Served("pub/docs/b.bin", TestBodies.Random(2, 5_000));
        using var server = await PythonHttpServer.StartAsync(Path.Combine(_dir, "www"));
        var cache = Path.Combine(_dir, "cache");

        var (exit, stdout, stderr) = await MirrorAsync(server.Url("/pub/"), "--dry-run");

        Assert.True(exit == 0, stdout + stderr);
        Assert.Contains($"would fetch {server.Url("/pub/a.txt")} (6 bytes)", stdout, StringComparison.Ordinal);
        Assert.Contains($"would fetch {server.Url("/pub/docs/b.bin")} (5000 bytes)", stdout, StringComparison.Ordinal);
        Assert.Contains("dry run: 2 listings read; 2 files would be fetched (4.9 KiB), 0 already in the tree; nothing was stored", stdout, StringComparison.Ordinal);
        Assert.Empty(Directory.Exists(cache) ? Directory.EnumerateFiles(cache, "*", SearchOption.AllDirectories) : []);

        // Mirrored; then the server loses a file and gains one: the dry run says so, and changes nothing.
        (exit, stdout, _) = await MirrorAsync(server.Url("/pub/"));
        Assert.Equal(0, exit);
        File.Delete(Path.Combine(_dir, "www", "pub/a.txt"));
        Served("pub/c.txt", "new\n"u8.ToArray());
        var before = Directory.EnumerateFiles(cache, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToList();

        (exit, stdout, _) = await MirrorAsync(server.Url("/pub/"), "--dry-run", "--delete");

        Assert.Equal(0, exit);
        Assert.Contains($"would fetch {server.Url("/pub/c.txt")} (4 bytes)", stdout, StringComparison.Ordinal);
        Assert.Contains($"in the tree {server.Url("/pub/docs/b.bin")}", stdout, StringComparison.Ordinal);
        Assert.Contains($"would delete 127.0.0.1:{server.Port}/pub/a.txt (no longer listed)", stdout, StringComparison.Ordinal);
        Assert.Contains("1 files would be fetched (4 B), 1 already in the tree", stdout, StringComparison.Ordinal);
        Assert.Equal(before, Directory.EnumerateFiles(cache, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task NotOnATerminal_EachFileEndsInOnePlainLine_AndTheSummaryRepeatsTheFailures()
    {
        Assert.True(PythonHttpServer.Exists, "python3 is needed (CI installs it)");
        Served("pub/a.txt", "alpha\n"u8.ToArray());
        Served("pub/b.txt", "beta\n"u8.ToArray());
        using var server = await PythonHttpServer.StartAsync(Path.Combine(_dir, "www"));
        await MirrorAsync(server.Url("/pub/a.txt"));
        var missing = server.Url("/pub/missing.txt");

        var (exit, stdout, _) = await MirrorAsync(server.Url("/pub/"), missing);

        Assert.Equal(1, exit);
        var all = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var lines = all.TakeWhile(line => !line.Contains("listings read;", StringComparison.Ordinal)).ToList();
        Assert.Contains($"current {server.Url("/pub/a.txt")}", lines);
        Assert.Contains($"downloaded {server.Url("/pub/b.txt")} (5 bytes)", lines);
        Assert.Single(lines, line => line.StartsWith($"FAILED {missing}: 404", StringComparison.Ordinal));
        Assert.DoesNotContain(all, line => line.Contains('\u001b', StringComparison.Ordinal));
        var summary = all[lines.Count..];
        Assert.Equal("1 listings read; 3 files: 1 downloaded (5 B), 1 already complete, 1 failed", summary[0]);
        Assert.StartsWith("0 verified against the repository's indexes", summary[1], StringComparison.Ordinal);
        Assert.Equal("failed:", summary[2]);
        Assert.StartsWith($"FAILED {missing}: 404", summary[3], StringComparison.Ordinal);
    }

    [Fact]
    public async Task OnATerminal_ALiveViewShowsTheProgress_InsteadOfALinePerFile()
    {
        Assert.True(PythonHttpServer.Exists, "python3 is needed (CI installs it)");
        Assert.True(File.Exists("/usr/bin/script"), "script (util-linux) is needed for a terminal");
        for (var i = 0; i < 30; i++)
        {
            Served($"pub/f{i:00}.txt", System.Text.Encoding.ASCII.GetBytes($"file {i}\n"));
        }

        using var server = await PythonHttpServer.StartAsync(Path.Combine(_dir, "www"));

        var (exit, output) = await ReplicatorProcess.RunOnTerminalAsync(["mirror", server.Url("/pub/"), "--root", Path.Combine(_dir, "cache"), "--allow-to", "127.0.0.0/8"]);

        Assert.True(exit == 0, output);
        Assert.Contains("\u001b[", output, StringComparison.Ordinal); // drawn in place, with the terminal's escapes
        Assert.Matches(@"files\S* 30/30", output);
        Assert.DoesNotContain("downloaded http", output, StringComparison.Ordinal);
        Assert.Contains("1 listings read; 30 files: 30 downloaded", output, StringComparison.Ordinal);
        Assert.Equal(30, Directory.EnumerateFiles(Path.Combine(_dir, "cache", $"127.0.0.1:{server.Port}", "pub")).Count(path => path.EndsWith(".txt", StringComparison.Ordinal)));
    }
}
