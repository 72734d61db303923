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
}
