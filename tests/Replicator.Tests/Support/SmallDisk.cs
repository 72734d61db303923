using System.Diagnostics;

namespace Replicator.Tests;

/// <summary>
/// A small tmpfs mounted for one test (CI runs as root): a disk that fills up, or that is remounted read-only.
/// Where mounting is not allowed (a developer's account), <see cref="TryMount"/> returns null and the test has
/// nothing to run on.
/// </summary>
internal sealed class SmallDisk : IDisposable
{
    private SmallDisk(string path)
    {
        Path = path;
    }

    public string Path { get; }

    public static SmallDisk? TryMount(string size)
    {
        var path = Directory.CreateTempSubdirectory("replicator-disk-").FullName;
        if (Run("mount", "-t", "tmpfs", "-o", $"size={size}", "tmpfs", path) != 0)
        {
            Directory.Delete(path);
            return null;
        }

        return new SmallDisk(path);
    }

    public void Resize(string size) => Check(Run("mount", "-o", $"remount,size={size}", Path));

    public void ReadOnly() => Check(Run("mount", "-o", "remount,ro", Path));

    /// <summary>Every file under the mount, relative to it.</summary>
    public IReadOnlyList<string> Files() => [.. Directory.EnumerateFiles(Path, "*", SearchOption.AllDirectories).Select(file => System.IO.Path.GetRelativePath(Path, file))];

    public void Dispose()
    {
        Run("umount", "-l", Path);
        Directory.Delete(Path, recursive: true);
    }

    private static void Check(int exitCode)
    {
        if (exitCode != 0)
        {
            throw new InvalidOperationException($"mount failed with exit code {exitCode}");
        }
    }

    private static int Run(string command, params string[] args)
    {
        var start = new ProcessStartInfo(command) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        process.WaitForExit();
        return process.ExitCode;
    }
}
