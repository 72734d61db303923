namespace Replicator.Tests;

/// <summary>
/// Reads a file of the tree as a test checks it. .NET takes a shared flock(2) to open a file for reading and fails
/// ("used by another process") while another holds an exclusive one: a body in the tree must never stay locked (its
/// partial's lock goes at the commit), so that failure names who holds it, from /proc, to find the culprit.
/// </summary>
internal static class TreeFile
{
    public static byte[] Read(string path)
    {
        try
        {
            return File.ReadAllBytes(path);
        }
        catch (IOException e) when (e.HResult == 11)
        {
            throw new IOException($"{e.Message} Holders: {Holders(path)}", e);
        }
    }

    /// <summary>The processes with <paramref name="path"/> open, and the flock lines of /proc/locks.</summary>
    private static string Holders(string path)
    {
        var holders = new List<string>();
        foreach (var process in Directory.EnumerateDirectories("/proc").Where(dir => int.TryParse(Path.GetFileName(dir), out _)))
        {
            try
            {
                if (Directory.EnumerateFiles(Path.Combine(process, "fd")).Any(fd => new FileInfo(fd).LinkTarget == path))
                {
                    holders.Add($"pid {Path.GetFileName(process)} ({File.ReadAllText(Path.Combine(process, "cmdline")).Replace('\0', ' ').Trim()})");
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // A process that ended meanwhile, or one we may not look into.
            }
        }

        var locks = File.ReadAllLines("/proc/locks").Where(line => line.Contains("FLOCK", StringComparison.Ordinal));
        return $"{string.Join("; ", holders)}; /proc/locks: {string.Join(" | ", locks)}";
    }
}
