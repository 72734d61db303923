using Replicator.Mirror;

namespace Replicator.Tests.Mirror;

/// <summary>Choosing what `mirror apt --packages` fetches: the dependency closure (issue 15, point 2).</summary>
public sealed class PackageCatalogTests
{
    private static PackageCatalog Catalog(params string[] stanzas)
    {
        var catalog = new PackageCatalog();
        foreach (var stanza in stanzas)
        {
            foreach (var fields in Replicator.Cache.Packages.DebianIndex.ReadStanzas(new StringReader(stanza)))
            {
                catalog.Add(fields);
            }
        }

        return catalog;
    }

    private static string Package(string name, string version, string extra = "") =>
        $"Package: {name}\nVersion: {version}\nArchitecture: amd64\nFilename: pool/{name}_{version}_amd64.deb\n{extra}\n";

    [Fact]
    public void Closure_FollowsPreDependsAndDepends_FirstSatisfiableAlternative_VirtualsAndTheNewestVersion()
    {
        var catalog = Catalog(
            Package("app", "1.0", "Pre-Depends: libc6 (>= 2.36)\nDepends: missing | libfoo (>= 1.0), mta, python3:any\n"),
            Package("libc6", "2.36-9"),
            Package("libc6", "2.36-10"),
            Package("libfoo", "1.2", "Depends: libc6\n"),
            Package("exim4", "4.96", "Provides: mail-transport-agent, mta\n"),
            Package("python3", "3.11.2"),
            Package("unrelated", "1.0"));

        var (packages, unsatisfied) = catalog.Closure(["app"]);

        Assert.Equal(["app", "exim4", "libc6", "libfoo", "python3"], packages.Select(package => package.Name));
        Assert.Equal("pool/libc6_2.36-10_amd64.deb", packages.Single(package => package.Name == "libc6").Filename);
        Assert.Empty(unsatisfied);
    }

    [Fact]
    public void Closure_NamesWhatNothingSatisfies()
    {
        var catalog = Catalog(Package("app", "1.0", "Depends: ghost | phantom (>= 2)\n"));

        var (packages, unsatisfied) = catalog.Closure(["app", "nonexistent"]);

        Assert.Equal(["app"], packages.Select(package => package.Name));
        Assert.Equal(["nonexistent", "app: ghost | phantom (>= 2)"], unsatisfied);
    }
}
