namespace Replicator.Tests;

/// <summary>Files of the repository the tests check (the shipped configuration, the dashboard).</summary>
internal static class TestPaths
{
    /// <summary>The directory holding replicator.sln, found upwards from the test binaries.</summary>
    public static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (!File.Exists(Path.Combine(directory.FullName, "replicator.sln")))
        {
            directory = directory.Parent ?? throw new InvalidOperationException("replicator.sln not found above the test binaries");
        }

        return directory.FullName;
    }
}
