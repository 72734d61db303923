using System.Net;
using Replicator.Hosting;

namespace Replicator.Tests.Hosting;

/// <summary>The command line as the program parses it (ReplicatorCommand.Run, in-process): every option reaches Settings.</summary>
public sealed class CommandLineTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("replicator-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Defaults()
    {
        var settings = Parse();

        Assert.Equal([new IPEndPoint(IPAddress.Loopback, 8080)], settings.Host.Endpoints);
        Assert.Equal(TimeSpan.FromSeconds(15), settings.Proxy.Timeout);
        Assert.Equal(TimeSpan.FromSeconds(30), settings.Proxy.RequestHeadTimeout);
        Assert.Equal(TimeSpan.FromSeconds(60), settings.Proxy.ResponseHeadTimeout);
        Assert.Equal(256, settings.Proxy.MaxClientConnections);
        Assert.Equal([443], settings.Proxy.ConnectPorts);
        Assert.False(settings.Proxy.Upstream.Allows(IPAddress.Loopback));
        Assert.False(settings.Cache.Static);
        Assert.False(settings.Cache.Offline);
        Assert.Equal(16 * 1024 * 1024, settings.Cache.FinishBelow);
    }

    [Fact]
    public void EveryOption_ReachesTheSettings()
    {
        var settings = Parse(
            "--port", "3128", "--bind", "::1", "--bind", "10.0.0.1", "--timeout", "7", "--head-timeout", "9",
            "--upstream-head-timeout", "11", "--connect-port", "8443", "--finish-below", "0", "--static",
            "--max-client-connections", "0", "--allow-to", "127.0.0.0/8", "--allow-port", "22", "--ip", "10.0.0.0/8",
            "--threads", "3", "--limit", "2.5", "--immutable", "/isos/**", "--volatile", "**/latest.json", "--volatile", "**/*.idx",
            "--heuristic", "0");

        Assert.Equal([new IPEndPoint(IPAddress.IPv6Loopback, 3128), new IPEndPoint(IPAddress.Parse("10.0.0.1"), 3128)], settings.Host.Endpoints);
        Assert.Equal(TimeSpan.FromSeconds(7), settings.Proxy.Timeout);
        Assert.Equal(TimeSpan.FromSeconds(9), settings.Proxy.RequestHeadTimeout);
        Assert.Equal(TimeSpan.FromSeconds(11), settings.Proxy.ResponseHeadTimeout);
        Assert.Equal(0, settings.Cache.FinishBelow);
        Assert.True(settings.Cache.Static);
        Assert.False(settings.Cache.Offline);
        Assert.Equal(0, settings.Proxy.MaxClientConnections);
        Assert.True(settings.Proxy.Upstream.Allows(IPAddress.Parse("127.0.0.1")));
        Assert.True(settings.Proxy.Upstream.AllowsPort(22));
        Assert.True(settings.Proxy.Access.Allows(IPAddress.Parse("10.9.8.7")));
        Assert.Equal(3, settings.Host.Threads);
        Assert.Equal(2560, settings.Proxy.Limit);
        Assert.Equal(Replicator.Cache.FileClass.Immutable, settings.Cache.Classes.Classify("/isos/debian-12.iso"));
        Assert.Equal(Replicator.Cache.FileClass.Volatile, settings.Cache.Classes.Classify("/a/latest.json"));
        Assert.Equal(Replicator.Cache.FileClass.Volatile, settings.Cache.Classes.Classify("/b/c.idx"));
        Assert.Equal(0, settings.Cache.HeuristicPercent);
    }

    [Fact]
    public void FileClassesAndHeuristic_Defaults()
    {
        var settings = Parse();

        Assert.Equal(10, settings.Cache.HeuristicPercent);
        Assert.Equal(Replicator.Cache.FileClass.Other, settings.Cache.Classes.Classify("/isos/debian-12.iso"));
        Assert.Equal(Replicator.Cache.FileClass.Immutable, settings.Cache.Classes.Classify("/debian/pool/main/h/hello/hello_2.10-3_amd64.deb"));
    }

    [Fact]
    public void ConnectPort_AddsTo443()
    {
        Assert.Equal(new HashSet<int> { 443, 8443 }, Parse("--connect-port", "8443").Proxy.ConnectPorts);
    }

    [Fact]
    public void Offline_ImpliesStatic()
    {
        var settings = Parse("--offline");

        Assert.True(settings.Cache.Offline);
        Assert.True(settings.Cache.Static);
    }

    [Fact]
    public void ConfigFile_GivesOptions_RepeatableOnSeveralLines_CommandLineWins()
    {
        var config = Write("""
            # the LAN cache
            port = 3128
            ip = 10.0.0.0/8
            ip = 192.168.0.0/16
            timeout = 20
            static = true
            verbose = 1
            """);

        var settings = Parse("--config", config, "--port", "4000");

        Assert.Equal(4000, settings.Host.Endpoints[0].Port);
        Assert.True(settings.Proxy.Access.Allows(IPAddress.Parse("10.1.1.1")));
        Assert.True(settings.Proxy.Access.Allows(IPAddress.Parse("192.168.1.1")));
        Assert.False(settings.Proxy.Access.Allows(IPAddress.Loopback));
        Assert.Equal(TimeSpan.FromSeconds(20), settings.Proxy.Timeout);
        Assert.True(settings.Cache.Static);
        Assert.Equal(1, settings.Host.Verbosity);
    }

    [Fact]
    public void ConfigFile_RepeatableOptionOnTheCommandLine_ReplacesTheFilesValues()
    {
        var config = Write("ip = 10.0.0.0/8\n");

        var settings = Parse("--config", config, "--ip", "192.168.0.0/16");

        Assert.False(settings.Proxy.Access.Allows(IPAddress.Parse("10.1.1.1")));
        Assert.True(settings.Proxy.Access.Allows(IPAddress.Parse("192.168.1.1")));
    }

    [Theory]
    [InlineData("timeout = 5\nport = abc\n", ":2: --port: 'abc' is not a TCP port")]
    [InlineData("# c\n\nno-such = 1\n", ":3: 'no-such' is not an option")]
    [InlineData("port 80\n", ":1: expected 'name = value'")]
    [InlineData("port = 80\nport = 81\n", ":2: 'port' is set twice")]
    [InlineData("static = maybe\n", ":1: static is a switch")]
    [InlineData("bind = 1.2.3\n", ":1: --bind: '1.2.3' is not an IPv4 address")]
    public void ConfigFile_BadLine_IsOneErrorWithItsLineNumber(string text, string expected)
    {
        var config = Write(text);

        var (exit, error) = Fail("--config", config);

        Assert.Equal(2, exit);
        Assert.Contains(config + expected, error, StringComparison.Ordinal);
    }

    [Fact]
    public void ConfigFile_Missing_IsOneError()
    {
        var (exit, error) = Fail("--config", Path.Combine(_dir, "missing.conf"));

        Assert.Equal(2, exit);
        Assert.Contains("--config: cannot read", error, StringComparison.Ordinal);
    }

    [Fact]
    public void MirrorAndCaFile_ReachTheSettings()
    {
        using var certificates = new TestCertificates();
        var pem = certificates.WriteAuthorityPem(_dir);

        var settings = Parse("--mirror", "debian=http://deb.debian.org/debian", "--mirror", "docker=https://download.docker.com/linux/debian", "--ca-file", pem);

        Assert.Equal("http://deb.debian.org/debian/dists/x", settings.Proxy.Mirrors.Resolve("/debian/dists/x")![0].ToString());
        Assert.Equal("https://download.docker.com/linux/debian/x", settings.Proxy.Mirrors.Resolve("/docker/x")![0].ToString());
        Assert.Equal(certificates.Authority.Thumbprint, Assert.Single(settings.Proxy.ExtraAuthorities).Thumbprint);
    }

    [Theory]
    [InlineData("--mirror", "debian", "--mirror: 'debian' is not NAME=URL")]
    [InlineData("--mirror", "https=http://x/", "--mirror: 'https=http://x/' is not NAME=URL")]
    [InlineData("--ca-file", "/nonexistent.pem", "--ca-file: cannot read certificates from /nonexistent.pem")]
    [InlineData("--heuristic", "101", "--heuristic: '101' is not a percentage")]
    [InlineData("--immutable", "", "--immutable: '' is not a path glob")]
    [InlineData("--volatile", "a\tb", "--volatile: 'a\tb' is not a path glob")]
    public void BadFileClassOrHeuristic_IsOneLine(string option, string value, string expected)
    {
        var (exit, error) = Fail(option, value);

        Assert.Equal(2, exit);
        Assert.Contains(expected, error, StringComparison.Ordinal);
    }

    [Fact]
    public void UpkeepOptions_ReachTheSettings()
    {
        var settings = Parse("--max-size", "50G", "--min-free", "10%", "--admin", "192.168.1.0/24", "--expire-after", "7", "--keep-versions", "2");

        Assert.Equal(50L << 30, settings.Cache.Upkeep.MaxSize);
        Assert.Equal(0.1, settings.Cache.Upkeep.MinFree);
        Assert.True(settings.Proxy.Admin.Allows(IPAddress.Parse("192.168.1.7")));
        Assert.False(settings.Proxy.Admin.Allows(IPAddress.Loopback));
        Assert.Equal((7, 2), (settings.Cache.Upkeep.Expiry!.ExpireAfterDays, settings.Cache.Upkeep.Expiry.KeepVersions));

        var defaults = Parse();
        Assert.Null(defaults.Cache.Upkeep.MaxSize);
        Assert.Null(defaults.Cache.Upkeep.MinFree);
        Assert.True(defaults.Proxy.Admin.Allows(IPAddress.Loopback));
        Assert.False(defaults.Proxy.Admin.Allows(IPAddress.Parse("192.168.1.7")));
        Assert.Equal(1536L << 20, Parse("--max-size", "1.5g").Cache.Upkeep.MaxSize);
        Assert.Equal(4096L, Parse("--max-size", "4096").Cache.Upkeep.MaxSize);
    }

    [Fact]
    public void DirectIo_TakesASizeOrZero()
    {
        Assert.Equal(64L << 20, Parse().Cache.DirectWriteAbove);
        Assert.Equal(1L << 30, Parse("--direct-io", "1G").Cache.DirectWriteAbove);
        Assert.Equal(0, Parse("--direct-io", "0").Cache.DirectWriteAbove);
        var (exit, error) = Fail("--direct-io", "big");
        Assert.Equal(2, exit);
        Assert.Contains("--direct-io: 'big' is not a size such as 64M, 1G or 0", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--max-size", "lots", "--max-size: 'lots' is not a size such as 50G")]
    [InlineData("--max-size", "0", "--max-size: '0' is not a size")]
    [InlineData("--max-size", "-5G", "--max-size: '-5G' is not a size")]
    [InlineData("--min-free", "100%", "--min-free: '100%' is not a percentage")]
    [InlineData("--min-free", "0", "--min-free: '0' is not a percentage")]
    [InlineData("--admin", "10.0.0.0/99", "--admin:")]
    public void BadUpkeepOption_IsOneLine(string option, string value, string expected)
    {
        var (exit, error) = Fail(option, value);

        Assert.Equal(2, exit);
        Assert.Contains(expected, error, StringComparison.Ordinal);
    }

    [Fact]
    public void ShippedServiceConfig_Parses_ListensOnBothFamilies_AndAdmitsPrivateRanges()
    {
        var docs = Path.Combine(TestPaths.RepositoryRoot(), "docs");
        var unit = File.ReadAllText(Path.Combine(docs, "replicator.service"));
        Assert.Contains("--config /etc/replicator/replicator.conf", unit, StringComparison.Ordinal);
        Assert.Contains("RestartPreventExitStatus=2", unit, StringComparison.Ordinal);

        var settings = Parse("--config", Path.Combine(docs, "replicator.conf"));

        Assert.Contains(settings.Host.Endpoints, endpoint => endpoint.Address.Equals(IPAddress.Any));
        Assert.Contains(settings.Host.Endpoints, endpoint => endpoint.Address.Equals(IPAddress.IPv6Any));
        foreach (var client in (string[])["127.0.0.1", "::1", "10.1.2.3", "172.20.0.1", "192.168.1.1", "fd12::1"])
        {
            Assert.True(settings.Proxy.Access.Allows(IPAddress.Parse(client)), client);
        }

        Assert.False(settings.Proxy.Access.Allows(IPAddress.Parse("203.0.113.1")));
        Assert.Equal("/var/cache/replicator", settings.Cache.Root);
    }

    private string Write(string text)
    {
        var path = Path.Combine(_dir, "replicator.conf");
        File.WriteAllText(path, text);
        return path;
    }

    private static Settings Parse(params string[] args)
    {
        Settings? settings = null;
        var exit = ReplicatorCommand.Run(args, s =>
        {
            settings = s;
            return 0;
        });
        Assert.Equal(0, exit);
        return settings!;
    }

    private static (int Exit, string Error) Fail(params string[] args)
    {
        var error = new StringWriter();
        var original = Console.Error;
        Console.SetError(error);
        try
        {
            var exit = ReplicatorCommand.Run(args, _ => throw new InvalidOperationException("should not run"));
            return (exit, error.ToString());
        }
        finally
        {
            Console.SetError(original);
        }
    }
}
