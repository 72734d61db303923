namespace Replicator.Tests.Mirror;

/// <summary>
/// <c>replicator mirror apt</c> (issue 15, point 2), through the real program, and the real apt-get reading the
/// result from a Replicator started with --offline on that tree.
/// </summary>
public sealed class AptMirrorTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("replicator-aptmirror-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    /// <summary>pkg0 needs pkg1 (after an alternative nothing satisfies) and the virtual package pkg2 provides; pkg3 and pkg4 are not needed.</summary>
    private static TestRepository Repository() => new("/debian", packages: 5, fields: i => i switch
    {
        0 => "Depends: nothing-has-this | pkg1 (>= 1.0), virtual-x\n",
        2 => "Provides: virtual-x\n",
        _ => string.Empty,
    });

    [Fact]
    public async Task Packages_AndTheirDependencies_AreMirrored_AndAnOfflineReplicatorSatisfiesAptGetInstall()
    {
        Assert.True(AptClient.Exists, "apt-get is needed (CI installs it)");
        await using var origin = await TestOrigin.StartAsync();
        var repository = Repository();
        repository.ServeFrom(origin);

        var (exit, stdout, stderr) = await ReplicatorProcess.RunToEndAsync(
            "mirror", "apt", origin.Url("/debian"), "--suite", "stable", "--component", "main", "--arch", "amd64",
            "--packages", "pkg0", "--root", _root, "--allow-to", "127.0.0.0/8");

        Assert.True(exit == 0, stdout + stderr);
        Assert.Contains("3 packages chosen", stdout, StringComparison.Ordinal);
        foreach (var package in repository.Packages.Take(3))
        {
            // Checked against the Packages index's size and SHA256 before it entered the tree, and said so.
            Assert.Contains($"downloaded {origin.Url(repository.UrlPathOf(package))} ({package.Body.Length} bytes, verified)", stdout, StringComparison.Ordinal);
        }

        var verified = System.Text.RegularExpressions.Regex.Match(stdout, @"^(\d+) verified against the repository's indexes", System.Text.RegularExpressions.RegexOptions.Multiline);
        Assert.True(verified.Success && int.Parse(verified.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) >= 3, stdout);
        var tree = Path.Combine(_root, $"127.0.0.1:{origin.Port}");
        foreach (var (package, i) in repository.Packages.Select((package, i) => (package, i)))
        {
            var path = Path.Combine(tree, "debian", package.Filename);
            if (i <= 2)
            {
                Assert.Equal(package.Body, File.ReadAllBytes(path));
            }
            else
            {
                Assert.False(File.Exists(path), package.Filename);
            }
        }

        Assert.True(File.Exists(Path.Combine(tree, "debian", "dists", "stable", "Release")));
        Assert.True(File.Exists(Path.Combine(tree, repository.ByHashPath("main/binary-amd64/Packages.xz").TrimStart('/'))));

        // A machine whose only source is this tree, served offline: apt resolves and fetches pkg0 with what it needs.
        var asked = origin.Requests.Count;
        using var offline = await ReplicatorProcess.StartBareAsync("--port", "0", "--root", _root, "--offline");
        using var apt = new AptClient($"deb [trusted=yes] http://127.0.0.1:{origin.Port}/debian stable main", $"http://{offline.Endpoint}");
        var update = await apt.RunAsync("update");
        Assert.DoesNotContain("Err:", update, StringComparison.Ordinal);
        await apt.RunAsync("install", "--download-only", "-y", "pkg0");

        var fetched = Directory.GetFiles(apt.Archives, "*.deb").Select(Path.GetFileName).Order(StringComparer.Ordinal);
        Assert.Equal(["pkg0_1.1_all.deb", "pkg1_1.1_all.deb", "pkg2_1.1_all.deb"], fetched);
        Assert.Equal(asked, origin.Requests.Count);
    }

    [Fact]
    public async Task DryRun_ListsTheClosureWithTheIndexSizes_AndStoresNothing()
    {
        await using var origin = await TestOrigin.StartAsync();
        var repository = Repository();
        repository.ServeFrom(origin);

        var (exit, stdout, stderr) = await ReplicatorProcess.RunToEndAsync(
            "mirror", "apt", origin.Url("/debian"), "--suite", "stable", "--arch", "amd64", "--packages", "pkg0", "--dry-run",
            "--root", _root, "--allow-to", "127.0.0.0/8");

        Assert.True(exit == 0, stdout + stderr);
        foreach (var (package, i) in repository.Packages.Select((package, i) => (package, i)))
        {
            var line = $"would fetch {origin.Url(repository.UrlPathOf(package))} ({package.Body.Length} bytes)";
            Assert.True(i <= 2 ? stdout.Contains(line, StringComparison.Ordinal) : !stdout.Contains(package.Filename, StringComparison.Ordinal), stdout);
        }

        Assert.Contains("nothing was stored", stdout, StringComparison.Ordinal);
        Assert.DoesNotContain(origin.Requests, request => request.PathAndQuery.EndsWith(".deb", StringComparison.Ordinal));
        Assert.Empty(Directory.EnumerateFiles(_root, "*", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task Source_AddsTheSourcesIndex_AndTheChosenPackagesSources()
    {
        await using var origin = await TestOrigin.StartAsync();
        var repository = new TestRepository("/debian", packages: 3, sources: true);
        repository.ServeFrom(origin);

        var (exit, stdout, stderr) = await ReplicatorProcess.RunToEndAsync(
            "mirror", "apt", origin.Url("/debian"), "--suite", "stable", "--arch", "amd64", "--packages", "pkg1", "--source", "--root", _root, "--allow-to", "127.0.0.0/8");

        Assert.True(exit == 0, stdout + stderr);
        var tree = Path.Combine(_root, $"127.0.0.1:{origin.Port}", "debian");
        Assert.True(File.Exists(Path.Combine(tree, "dists/stable/main/source/Sources")));
        Assert.Equal(repository.SourceFiles["pool/main/p/pkg1/pkg1_1.1.dsc"], File.ReadAllBytes(Path.Combine(tree, "pool/main/p/pkg1/pkg1_1.1.dsc")));
        Assert.False(File.Exists(Path.Combine(tree, "pool/main/p/pkg0/pkg0_1.1.dsc")));
    }

    [Fact]
    public async Task ACorruptedPackage_IsRefused_AndReported()
    {
        await using var origin = await TestOrigin.StartAsync();
        var repository = Repository();
        repository.ServeFrom(origin);
        var corrupted = (byte[])repository.Packages[1].Body.Clone();
        corrupted[7] ^= 0x55;
        origin.Files[repository.UrlPathOf(repository.Packages[1])] = new OriginFile(corrupted);

        var (exit, stdout, _) = await ReplicatorProcess.RunToEndAsync(
            "mirror", "apt", origin.Url("/debian"), "--suite", "stable", "--arch", "amd64", "--packages", "pkg0", "--root", _root, "--allow-to", "127.0.0.0/8");

        Assert.Equal(1, exit);
        Assert.Contains($"FAILED {origin.Url(repository.UrlPathOf(repository.Packages[1]))}: 502", stdout, StringComparison.Ordinal);
        Assert.Contains("does not match", stdout, StringComparison.Ordinal);
        var tree = Path.Combine(_root, $"127.0.0.1:{origin.Port}", "debian");
        Assert.False(File.Exists(Path.Combine(tree, repository.Packages[1].Filename)));
        Assert.True(File.Exists(Path.Combine(tree, repository.Packages[0].Filename)));
    }

    [Fact]
    public async Task ASecondRun_DownloadsNothing_AndAMissingPackageIsNamed()
    {
        await using var origin = await TestOrigin.StartAsync();
        var repository = Repository();
        repository.ServeFrom(origin);
        string[] mirror = ["mirror", "apt", origin.Url("/debian"), "--suite", "stable", "--arch", "amd64", "--root", _root, "--allow-to", "127.0.0.0/8"];

        var (exit, stdout, _) = await ReplicatorProcess.RunToEndAsync(mirror);
        Assert.Equal(0, exit);
        Assert.Contains("5 packages chosen", stdout, StringComparison.Ordinal);
        var packageRequests = repository.Packages.Sum(package => origin.CountRequests(repository.UrlPathOf(package)));
        Assert.Equal(5, packageRequests);

        (exit, stdout, _) = await ReplicatorProcess.RunToEndAsync(mirror);
        Assert.Equal(0, exit);
        Assert.Equal(5, repository.Packages.Sum(package => origin.CountRequests(repository.UrlPathOf(package))));

        (exit, stdout, _) = await ReplicatorProcess.RunToEndAsync([.. mirror, "--packages", "pkg4,no-such-package"]);
        Assert.Equal(1, exit);
        Assert.Contains("unsatisfied: no-such-package", stdout, StringComparison.Ordinal);
    }
}
