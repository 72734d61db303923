using Replicator.Cache.Packages;
using Serilog;

namespace Replicator.Cache.Upkeep;

/// <summary>How expiry judges package files: --expire-after days unlisted, --keep-versions newest kept per package.</summary>
internal sealed record ExpiryOptions
{
    public static ExpiryOptions Defaults { get; } = new();

    public int ExpireAfterDays { get; init; } = 4;

    public int KeepVersions { get; init; } = 1;
}

/// <summary>What one expiry run found: files removed (or, dry, to remove) and repositories it left alone, with why.</summary>
internal sealed record ExpiryResult(IReadOnlyList<(string Path, long Bytes)> Expired, IReadOnlyDictionary<string, string> Skipped, int Listed, int Waiting);

/// <summary>
/// Why: every superseded package version stays in the tree for ever unless something removes it (issue 14, point
/// 3; apt-cacher-ng's expiration, done carefully). A package file under a repository's pool/ goes once no cached
/// Packages or Sources index of that repository has listed it for --expire-after days, the --keep-versions newest
/// versions of each package (by Debian's version order) kept whatever. The clock per file is kept in the usage
/// database: when an index last listed it, or when it was first seen listed by none (so a first run removes nothing
/// unless told 0 days). A repository is left alone, with a warning, when any of its indexes cannot be read, does
/// not match what its Release says, or is being downloaded: a broken index must not look like "nothing is listed".
/// </summary>
internal static class Expiry
{
    public static ExpiryResult Run(CacheStore store, TimeProvider clock, ExpiryOptions options, bool dryRun)
    {
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        var indexes = new PackageIndexes();
        indexes.LearnTree(store);
        var bodies = store.EnumerateBodies().ToList();

        // The repositories whose indexes can be trusted now.
        var judged = new HashSet<string>(StringComparer.Ordinal);
        var skipped = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (path, length, _) in bodies)
        {
            if (indexes.IndexOf(path) is not { Kind: not IndexKind.Release } index)
            {
                continue;
            }

            var repository = PackageIndexes.RepositoryOf(path, index.Kind);
            judged.Add(repository);
            if (indexes.Unreadable.TryGetValue(path, out var reason))
            {
                skipped[repository] = $"{path} cannot be read: {reason}";
            }
            else if (indexes.Expect(path) is { } expected && (expected.Size is { } size && size != length || !MatchesHash(store, path, expected.Sha256)))
            {
                skipped[repository] = $"{path} does not match {expected.Source}";
            }
        }

        foreach (var partial in store.EnumeratePartials())
        {
            if (indexes.IndexOf(partial) is { } index)
            {
                skipped[PackageIndexes.RepositoryOf(partial, index.Kind)] = $"{partial} is being downloaded";
            }
        }

        foreach (var (repository, reason) in skipped)
        {
            Log.Warning("Expiry leaves {Repository:l} alone: {Reason:l}", repository, reason);
        }

        using var database = UsageDatabase.Open(store.Root, clock);
        var since = database.ReadListed();
        var changed = new Dictionary<string, long>(StringComparer.Ordinal);
        var candidates = new List<(string Path, long Bytes)>();
        var packages = new Dictionary<(string Directory, string Name, string Architecture), List<(string Version, string Path)>>();
        var (listed, waiting) = (0, 0);
        foreach (var (path, length, _) in bodies)
        {
            var pool = path.IndexOf("/pool/", StringComparison.Ordinal);
            if (pool < 0 || !judged.Contains(path[..pool]) || skipped.ContainsKey(path[..pool]))
            {
                continue;
            }

            if (Parse(path) is { } package)
            {
                if (!packages.TryGetValue((package.Directory, package.Name, package.Architecture), out var versions))
                {
                    packages[(package.Directory, package.Name, package.Architecture)] = versions = [];
                }

                versions.Add((package.Version, path));
            }

            if (indexes.Expect(path) is not null)
            {
                listed++;
                changed[path] = now;
            }
            else if (!since.TryGetValue(path, out var unlistedSince) || unlistedSince > now)
            {
                waiting++;
                changed[path] = now; // first seen listed by none: the clock starts
            }
            else if (now - unlistedSince >= TimeSpan.FromDays(options.ExpireAfterDays).TotalMilliseconds)
            {
                candidates.Add((path, length));
            }
            else
            {
                waiting++;
            }
        }

        var kept = packages.Values
            .SelectMany(versions => versions.OrderByDescending(version => version.Version, Comparer<string>.Create(DebianVersion.Compare)).Take(options.KeepVersions))
            .Select(version => version.Path)
            .ToHashSet(StringComparer.Ordinal);
        var expired = candidates.Where(candidate => !kept.Contains(candidate.Path)).ToList();
        if (!dryRun)
        {
            foreach (var (path, _) in expired)
            {
                store.Remove(path);
                Log.Information("Expired {Path:l}: listed by no index for {Days} days", path, options.ExpireAfterDays);
            }

            database.WriteListed(changed, [.. expired.Select(file => file.Path)]);
        }

        return new ExpiryResult(expired, skipped, listed, waiting + (candidates.Count - expired.Count));
    }

    private static bool MatchesHash(CacheStore store, string path, string sha256)
    {
        using var body = store.Tree.OpenForReading(store.BodyPath(path));
        return string.Equals(PackageIndexes.Sha256Of(body), sha256, StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>name_version_arch.deb (or .udeb, .ddeb), name_version.dsc and the like: what versions of one package share.</summary>
    private static (string Directory, string Name, string Version, string Architecture)? Parse(string path)
    {
        var slash = path.LastIndexOf('/');
        var file = path[(slash + 1)..];
        var parts = file.Split('_');
        if (parts.Length == 3 && Path.GetExtension(file) is ".deb" or ".udeb" or ".ddeb")
        {
            return (path[..slash], parts[0], parts[1], Path.GetFileNameWithoutExtension(parts[2]));
        }

        if (parts.Length == 2)
        {
            // Sources: name_version.dsc, name_version.orig.tar.xz, name_version.debian.tar.xz...
            var version = parts[1];
            foreach (var suffix in (string[])[".dsc", ".orig.tar", ".debian.tar", ".tar", ".diff.gz"])
            {
                var at = version.IndexOf(suffix, StringComparison.Ordinal);
                if (at > 0)
                {
                    return (path[..slash], parts[0], version[..at], "source" + version[at..]);
                }
            }
        }

        return null;
    }
}
