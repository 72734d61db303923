using Replicator.Cache.Packages;

namespace Replicator.Mirror;

/// <summary>One binary package of a Packages index, as far as choosing what to mirror needs it.</summary>
internal sealed record BinaryPackage(string Name, string Version, string Architecture, string Filename, IReadOnlyList<string> Provides, string Depends, string Source, long? Size = null);

/// <summary>
/// The binary packages of the indexes a mirror run read, and the dependency closure of the packages asked for
/// (issue 15, point 2): Depends and Pre-Depends, the first alternative that some package satisfies (by its name,
/// or through Provides for a virtual package), the newest version of each name. Version constraints are not solved:
/// the newest version is what apt would pick from a mirror of one suite.
/// </summary>
internal sealed class PackageCatalog
{
    private readonly Dictionary<string, List<BinaryPackage>> _byName = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<BinaryPackage>> _providers = new(StringComparer.Ordinal);

    public IEnumerable<BinaryPackage> All => _byName.Values.SelectMany(versions => versions);

    /// <summary>Adds the package a stanza describes (one without Package or Filename is not a package file).</summary>
    public void Add(IReadOnlyDictionary<string, string> stanza)
    {
        if (!stanza.TryGetValue("Package", out var name) || !stanza.TryGetValue("Filename", out var filename))
        {
            return;
        }

        var provides = stanza.GetValueOrDefault("Provides") is { } text ? Names(text) : [];
        var depends = string.Join(", ", new[] { stanza.GetValueOrDefault("Pre-Depends"), stanza.GetValueOrDefault("Depends") }.Where(part => !string.IsNullOrWhiteSpace(part)));
        var source = stanza.GetValueOrDefault("Source") is { } named ? NameOf(named) : name;
        var size = long.TryParse(stanza.GetValueOrDefault("Size"), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var bytes) ? bytes : (long?)null;
        var package = new BinaryPackage(name, stanza.GetValueOrDefault("Version") ?? string.Empty, stanza.GetValueOrDefault("Architecture") ?? "all", filename, provides, depends, source, size);
        Add(_byName, name, package);
        foreach (var provided in provides)
        {
            Add(_providers, provided, package);
        }
    }

    /// <summary>
    /// The packages <paramref name="names"/> name and all they depend on, and what could not be satisfied (a name
    /// asked for that no index has, or a dependency none of whose alternatives any package satisfies).
    /// </summary>
    public (IReadOnlyList<BinaryPackage> Packages, IReadOnlyList<string> Unsatisfied) Closure(IEnumerable<string> names)
    {
        var chosen = new Dictionary<string, BinaryPackage>(StringComparer.Ordinal);
        var unsatisfied = new List<string>();
        var queue = new Queue<BinaryPackage>();
        foreach (var name in names)
        {
            if (Resolve(name) is { } package)
            {
                Choose(package);
            }
            else
            {
                unsatisfied.Add(name);
            }
        }

        while (queue.TryDequeue(out var package))
        {
            foreach (var dependency in package.Depends.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                var alternatives = dependency.Split('|', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                var satisfied = alternatives.Select(alternative => chosen.GetValueOrDefault(NameOf(alternative)) ?? Resolve(NameOf(alternative))).FirstOrDefault(found => found is not null);
                if (satisfied is null)
                {
                    unsatisfied.Add($"{package.Name}: {dependency}");
                }
                else
                {
                    Choose(satisfied);
                }
            }
        }

        return ([.. chosen.Values.OrderBy(package => package.Name, StringComparer.Ordinal)], unsatisfied);

        void Choose(BinaryPackage package)
        {
            if (chosen.TryAdd(package.Name, package))
            {
                queue.Enqueue(package);
            }
        }
    }

    /// <summary>The newest package of that name, or else the newest that provides it.</summary>
    private BinaryPackage? Resolve(string name) => Newest(_byName.GetValueOrDefault(name)) ?? Newest(_providers.GetValueOrDefault(name));

    private static BinaryPackage? Newest(List<BinaryPackage>? packages) =>
        packages?.OrderByDescending(package => package.Version, Comparer<string>.Create(DebianVersion.Compare)).FirstOrDefault();

    /// <summary>"libc6 (>= 2.36)", "python3:any", "foo [amd64]" -> the package name.</summary>
    private static string NameOf(string relation)
    {
        var end = relation.IndexOfAny([' ', '(', '[', '<', ':']);
        return (end < 0 ? relation : relation[..end]).Trim();
    }

    private static string[] Names(string list) =>
        [.. list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(NameOf)];

    private static void Add(Dictionary<string, List<BinaryPackage>> index, string key, BinaryPackage package)
    {
        if (!index.TryGetValue(key, out var list))
        {
            index[key] = list = [];
        }

        list.Add(package);
    }
}
