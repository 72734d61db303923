using System.Diagnostics;

namespace Replicator.Tests;

/// <summary>
/// The real apt-get, in a throwaway state of its own (sources list, lists, caches, dpkg status): nothing of the
/// machine's apt configuration is read or touched. Runs as any user; as root its download sandbox stays root.
/// </summary>
internal sealed class AptClient : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("replicator-apt-").FullName;

    /// <param name="sourcesLine">The sources list's one line, such as "deb [trusted=yes] http://host/debian stable main".</param>
    /// <param name="proxy">The HTTP proxy apt uses ("http://127.0.0.1:PORT"), or null for none (mirror URLs).</param>
    public AptClient(string sourcesLine, string? proxy)
    {
        foreach (var directory in (string[])["etc/apt.conf.d", "etc/preferences.d", "etc/sources.list.d", "state/lists/partial", "cache/archives/partial", "downloads"])
        {
            Directory.CreateDirectory(Path.Combine(_dir, directory));
        }

        File.WriteAllText(Path.Combine(_dir, "etc", "sources.list"), sourcesLine + "\n");
        File.WriteAllText(Path.Combine(_dir, "status"), string.Empty);
        File.WriteAllText(ConfigPath, $"""
            Dir "/";
            Dir::Etc "{_dir}/etc";
            Dir::Etc::main "{_dir}/etc/apt.conf";
            Dir::Etc::Parts "{_dir}/etc/apt.conf.d";
            Dir::Etc::SourceList "{_dir}/etc/sources.list";
            Dir::Etc::SourceParts "{_dir}/etc/sources.list.d";
            Dir::Etc::PreferencesParts "{_dir}/etc/preferences.d";
            Dir::State "{_dir}/state";
            Dir::State::status "{_dir}/status";
            Dir::Cache "{_dir}/cache";
            Dir::Log "{_dir}";
            APT::Architecture "amd64";
            APT::Architectures:: "amd64";
            APT::Sandbox::User "{Environment.UserName}";
            Acquire::Languages "none";
            Acquire::Retries "0";
            Acquire::http::Proxy "{proxy ?? "DIRECT"}";
            Acquire::http::Timeout "20";
            Debug::NoLocking "true";
            """);
        File.WriteAllText(Path.Combine(_dir, "etc", "apt.conf"), string.Empty);
    }

    public static bool Exists => File.Exists("/usr/bin/apt-get");

    private string ConfigPath => Path.Combine(_dir, "apt-test.conf");

    /// <summary>Where apt-get install --download-only puts the packages.</summary>
    public string Archives => Path.Combine(_dir, "cache", "archives");

    /// <summary>Where apt-get download puts the packages.</summary>
    public string Downloads => Path.Combine(_dir, "downloads");

    /// <summary>Runs apt-get with these arguments; returns its output, and fails the test on a non-zero exit.</summary>
    public async Task<string> RunAsync(params string[] args)
    {
        var start = new ProcessStartInfo("apt-get")
        {
            WorkingDirectory = Downloads,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment["APT_CONFIG"] = ConfigPath;
        start.ArgumentList.Add("-q");
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var apt = Process.Start(start)!;
        var output = apt.StandardOutput.ReadToEndAsync();
        var error = apt.StandardError.ReadToEndAsync();
        await apt.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(2));
        var text = await output + await error;
        Assert.True(apt.ExitCode == 0, $"apt-get {string.Join(' ', args)} exited with {apt.ExitCode}:\n{text}");
        return text;
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
