using System.CommandLine;
using System.IO.Abstractions;
using System.Text.Json;
using DotNet.Globbing;
using Replicator.Cache;
using Replicator.Cache.Packages;
using Replicator.Cache.Upkeep;
using Replicator.Http;

namespace Replicator.Hosting;

/// <summary>
/// <c>replicator cache stats|verify|purge|import … --root DIR</c> (issue 14): looking after a cache tree from a
/// shell or a script, whether or not a proxy runs on it. They work on the tree itself (the truth) and read the usage
/// database; a running proxy finds a purged or moved file gone on its next request, and counts it at its next start.
/// Every command prints lines for people, or one JSON document with --json; a bad argument is one line and exit 2.
/// </summary>
internal static class CacheCommand
{
    private static readonly JsonSerializerOptions s_json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public static Command Create()
    {
        var root = new Option<string>("--root", "-r") { Description = "cache root directory", DefaultValueFactory = _ => CacheOptions.Defaults.Root };
        var json = new Option<bool>("--json") { Description = "print one JSON document instead of lines" };
        var dryRun = new Option<bool>("--dry-run") { Description = "print what would be removed, remove nothing" };
        var fix = new Option<bool>("--fix") { Description = "move damaged files aside (to ROOT/.replicator/damaged/) so that they are fetched again" };
        var targets = new Argument<string[]>("TARGET") { Description = "a URL (http://host/path), a host (host:port), or a glob over cache paths (host:port/pool/**/*.deb)", Arity = ArgumentArity.OneOrMore };
        var expireAfter = new Option<int>("--expire-after") { Description = "days a package file may stay listed by no cached index", DefaultValueFactory = _ => ExpiryOptions.Defaults.ExpireAfterDays };
        var keepVersions = new Option<int>("--keep-versions") { Description = "newest versions of each package kept whatever", DefaultValueFactory = _ => ExpiryOptions.Defaults.KeepVersions };
        var directory = new Argument<string>("DIR") { Description = "a directory of package files, such as /var/cache/apt/archives" };

        var stats = new Command("stats", "size, files, hits and bytes saved, per host and in all") { root, json };
        stats.SetAction(parsed => Stats(Store(parsed.GetValue(root)!), parsed.GetValue(json)));
        var verify = new Command("verify", "check every file against its metadata, and package files against their indexes' SHA256") { root, json, fix };
        verify.SetAction(parsed => Verify(Store(parsed.GetValue(root)!), parsed.GetValue(fix), parsed.GetValue(json)));
        var purge = new Command("purge", "remove files (with their metadata) by URL, host or glob") { root, json, dryRun, targets };
        purge.SetAction(parsed => Purge(Store(parsed.GetValue(root)!), parsed.GetValue(targets)!, parsed.GetValue(dryRun), parsed.GetValue(json)));
        var import = new Command("import", "adopt package files from a directory where a cached repository's index lists their SHA256") { root, json, directory };
        import.SetAction(parsed => Import(Store(parsed.GetValue(root)!), parsed.GetValue(directory)!, parsed.GetValue(json)));
        var expire = new Command("expire", "remove package files no cached index of their repository lists any more") { root, json, dryRun, expireAfter, keepVersions };
        expire.SetAction(parsed => Expire(Store(parsed.GetValue(root)!), new ExpiryOptions { ExpireAfterDays = NotNegative(parsed.GetValue(expireAfter), "--expire-after"), KeepVersions = NotNegative(parsed.GetValue(keepVersions), "--keep-versions") }, parsed.GetValue(dryRun), parsed.GetValue(json)));
        return new Command("cache", "look after a cache tree: stats, verify, purge, expire, import") { stats, verify, purge, expire, import };
    }

    private static CacheStore Store(string root)
    {
        var full = Path.GetFullPath(root);
        return Directory.Exists(full) ? new CacheStore(new FileSystem(), full) : throw new UsageException($"--root: {full} is not a directory");
    }

    private static int Stats(CacheStore store, bool json)
    {
        var perHost = new SortedDictionary<string, (long Files, long Bytes)>(StringComparer.Ordinal);
        foreach (var (path, length, _) in store.EnumerateBodies())
        {
            var host = UsageLedger.HostOf(path);
            var (files, bytes) = perHost.GetValueOrDefault(host);
            perHost[host] = (files + 1, bytes + length);
        }

        IReadOnlyList<HostRecord> usage = [];
        long created = 0;
        if (File.Exists(Path.Join(store.Root, CacheLayout.PrivateDirectory, UsageDatabase.FileName)))
        {
            using var database = UsageDatabase.Open(store.Root, TimeProvider.System, readOnly: true);
            usage = database.ReadHosts();
            created = database.Created;
        }

        var hosts = perHost.Keys.Union(usage.Select(host => host.Host)).Order(StringComparer.Ordinal).Select(name =>
        {
            var (files, bytes) = perHost.GetValueOrDefault(name);
            var used = usage.FirstOrDefault(host => host.Host == name) ?? new HostRecord(name, 0, 0, 0, 0);
            return new HostStats(name, files, bytes, used.Hits, used.Misses, Ratio(used.Hits, used.Hits + used.Misses), used.BytesFromCache, used.BytesFromUpstream);
        }).ToList();
        var hits = hosts.Sum(host => host.Hits);
        var requests = hits + hosts.Sum(host => host.Misses);
        var total = new TotalStats(
            store.Root, created == 0 ? null : DateTimeOffset.FromUnixTimeMilliseconds(created), hosts.Sum(host => host.Files), hosts.Sum(host => host.Bytes),
            hits, requests - hits, Ratio(hits, requests), hosts.Sum(host => host.BytesSaved), hosts.Sum(host => host.BytesFromUpstream), hosts);
        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(total, s_json));
            return 0;
        }

        Console.WriteLine($"{total.Root}: {total.Files} files, {ByteSize.Format(total.Bytes)}{(total.Created is { } since ? $", counting since {since:yyyy-MM-dd HH:mm} UTC" : string.Empty)}");
        Console.WriteLine($"requests {total.Hits + total.Misses}: {total.Hits} from the cache, {total.Misses} from upstream (hit ratio {total.HitRatio:P1}); {ByteSize.Format(total.BytesSaved)} served from the cache, {ByteSize.Format(total.BytesFromUpstream)} from upstream");
        foreach (var host in hosts)
        {
            Console.WriteLine($"  {host.Host}: {host.Files} files, {ByteSize.Format(host.Bytes)}; {host.Hits} hits, {host.Misses} misses ({host.HitRatio:P1}), {ByteSize.Format(host.BytesSaved)} saved");
        }

        return 0;
    }

    private static int Verify(CacheStore store, bool fix, bool json)
    {
        var (checkedFiles, damaged) = TreeVerification.Run(store, fix);
        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(new { Checked = checkedFiles, Damaged = damaged }, s_json));
        }
        else
        {
            damaged.ToList().ForEach(file => Console.WriteLine($"damaged {file.Path}: {file.Reason}{(file.MovedAside ? " (moved aside)" : string.Empty)}"));
            Console.WriteLine($"{checkedFiles} files checked, {damaged.Count} damaged{(fix && damaged.Count > 0 ? ", moved aside: they are fetched again" : string.Empty)}");
        }

        return damaged.Count == 0 || fix ? 0 : 1;
    }

    private static int Purge(CacheStore store, string[] targets, bool dryRun, bool json)
    {
        var matchers = targets.Select(Matcher).ToList();
        var removed = new List<Removed>();
        foreach (var (path, length, _) in store.EnumerateBodies())
        {
            if (matchers.Any(matches => matches(path)))
            {
                removed.Add(new Removed(path, length));
                if (!dryRun)
                {
                    store.Remove(path);
                }
            }
        }

        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(new { DryRun = dryRun, Removed = removed }, s_json));
        }
        else
        {
            removed.ForEach(file => Console.WriteLine($"{(dryRun ? "would remove" : "removed")} {file.Path} ({ByteSize.Format(file.Bytes)})"));
            Console.WriteLine($"{removed.Count} files, {ByteSize.Format(removed.Sum(file => file.Bytes))}{(dryRun ? " would be removed" : " removed")}");
        }

        return 0;
    }

    /// <summary>A URL names its cache path; host:port (or https/host:port) everything below it; anything else is a glob over cache paths.</summary>
    private static Func<string, bool> Matcher(string target)
    {
        if (target.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || target.StartsWith("https://", StringComparison.OrdinalIgnoreCase))
        {
            RequestUrl url;
            try
            {
                url = RequestUrl.ParseAbsolute(target);
            }
            catch (HttpParseException e)
            {
                throw new UsageException($"purge: '{target}' is not a URL: {e.Message}");
            }

            var path = CacheLayout.RelativePath(url) ?? throw new UsageException($"purge: '{target}' cannot be in the cache");
            return candidate => candidate == path;
        }

        if (!target.Contains('/', StringComparison.Ordinal) || (target.StartsWith(CacheLayout.HttpsDirectory + "/", StringComparison.Ordinal) && target.Count(c => c == '/') == 1))
        {
            var prefix = target + "/";
            return candidate => candidate.StartsWith(prefix, StringComparison.Ordinal);
        }

        var glob = Glob.Parse(target);
        return glob.IsMatch;
    }

    private static int Expire(CacheStore store, ExpiryOptions options, bool dryRun, bool json)
    {
        var result = Expiry.Run(store, TimeProvider.System, options, dryRun);
        var expired = result.Expired.Select(file => new Removed(file.Path, file.Bytes)).ToList();
        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(new { DryRun = dryRun, Expired = expired, Skipped = result.Skipped, result.Listed, result.Waiting }, s_json));
            return 0;
        }

        foreach (var (repository, reason) in result.Skipped)
        {
            Console.WriteLine($"left alone {repository}: {reason}");
        }

        expired.ForEach(file => Console.WriteLine($"{(dryRun ? "would expire" : "expired")} {file.Path} ({ByteSize.Format(file.Bytes)})"));
        Console.WriteLine($"{expired.Count} package files {(dryRun ? "would be " : string.Empty)}expired ({ByteSize.Format(expired.Sum(file => file.Bytes))}); {result.Listed} listed; {result.Waiting} unlisted but kept (newest versions, or not yet {options.ExpireAfterDays} days)");
        return 0;
    }

    private static int NotNegative(int value, string option) => value >= 0 ? value : throw new UsageException($"{option}: '{value}' is not a number of 0 or more");

    private static int Import(CacheStore store, string directory, bool json)
    {
        if (!Directory.Exists(directory))
        {
            throw new UsageException($"import: {directory} is not a directory");
        }

        var indexes = new PackageIndexes();
        indexes.LearnTree(store);
        var bySha256 = indexes.Listed().ToLookup(listed => listed.Expected.Sha256.ToLowerInvariant(), listed => listed.Key);
        var sizes = indexes.Listed().Select(listed => listed.Expected.Size).OfType<long>().ToHashSet();
        var adopted = new List<Adopted>();
        var skipped = 0;
        foreach (var file in Directory.EnumerateFiles(directory))
        {
            var info = new FileInfo(file);
            string sha256;
            if (!sizes.Contains(info.Length))
            {
                skipped++;
                continue;
            }

            using (var handle = File.OpenHandle(file))
            {
                sha256 = PackageIndexes.Sha256Of(handle);
            }

            var landed = false;
            foreach (var key in bySha256[sha256])
            {
                if (store.Adopt(key, file))
                {
                    adopted.Add(new Adopted(file, key));
                    landed = true;
                }
            }

            skipped += landed ? 0 : 1;
        }

        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(new { Adopted = adopted, Skipped = skipped }, s_json));
        }
        else
        {
            adopted.ForEach(file => Console.WriteLine($"adopted {file.Source} as {file.Path}"));
            Console.WriteLine($"{adopted.Count} files adopted, {skipped} skipped (listed by no cached index, or already in the cache)");
        }

        return 0;
    }

    private static double Ratio(long part, long whole) => whole == 0 ? 0 : (double)part / whole;

    private sealed record HostStats(string Host, long Files, long Bytes, long Hits, long Misses, double HitRatio, long BytesSaved, long BytesFromUpstream);

    private sealed record TotalStats(string Root, DateTimeOffset? Created, long Files, long Bytes, long Hits, long Misses, double HitRatio, long BytesSaved, long BytesFromUpstream, IReadOnlyList<HostStats> Hosts);

    private sealed record Removed(string Path, long Bytes);

    private sealed record Adopted(string Source, string Path);
}

/// <summary>A command's argument that cannot be used: one line, exit 2.</summary>
internal sealed class UsageException(string message) : Exception(message);
