using System.Text;
using DotNet.Globbing;
using Replicator.Cache;
using Replicator.Http;

namespace Replicator.Mirror;

/// <summary>What a directory-tree mirror takes and leaves (globs are matched against paths below the start URL).</summary>
internal sealed record TreeMirrorOptions
{
    public IReadOnlyList<string> Include { get; init; } = [];

    public IReadOnlyList<string> Exclude { get; init; } = [];

    /// <summary>How many directory levels below the start are followed; null: all.</summary>
    public int? MaxDepth { get; init; }

    /// <summary>Files larger than this (by a HEAD request first) are skipped; null: no limit.</summary>
    public long? MaxFileSize { get; init; }

    /// <summary>Remove files below the start that the server no longer lists (only after a crawl without failures).</summary>
    public bool Delete { get; init; }
}

/// <summary>
/// <c>replicator mirror http://host/path/</c> (issue 15, point 1): walks the server's directory listings from the
/// start URL down, never above it, and fetches every file through the embedded proxy, so each lands exactly where a
/// proxied request would put it. Listings (kept in the tree as %index) and files are fetched --jobs at a time, each
/// directory's listing as soon as its parent's names it. With --delete, files of the tree below the start that the server no longer lists are removed, but only
/// after a crawl in which nothing failed: a listing that could not be read must not look like "everything is gone".
/// </summary>
internal static class TreeMirror
{
    public static async Task<bool> RunAsync(EmbeddedProxy proxy, Fetcher fetcher, Uri start, TreeMirrorOptions options, CancellationToken cancel)
    {
        if (!start.AbsolutePath.EndsWith('/'))
        {
            return (await fetcher.FetchAsync(start, keepBody: false, cancel)).Succeeded;
        }

        var crawl = new Crawl(proxy, fetcher, start, options, cancel);
        await crawl.WalkAsync(start, depth: 0);
        var results = await Task.WhenAll(crawl.Files);
        var complete = crawl.ListingsRead && results.All(result => result is null || result.Succeeded);
        if (options.Delete)
        {
            if (complete)
            {
                DeleteVanished(proxy, start, crawl.Seen, crawl.Listed, fetcher.Report, fetcher.DryRun);
            }
            else
            {
                fetcher.Report.Note("--delete: nothing deleted, since part of the tree could not be read");
            }
        }

        return complete;
    }

    /// <summary>
    /// One run's walk: every directory's listing is read as soon as its parent's names it (within --jobs and
    /// --per-host, like the files), so a deep tree far away costs about one round trip per level, not one per
    /// directory.
    /// </summary>
    private sealed class Crawl(EmbeddedProxy proxy, Fetcher fetcher, Uri start, TreeMirrorOptions options, CancellationToken cancel)
    {
        private readonly Lock _gate = new();
        private readonly List<Glob> _include = [.. options.Include.Select(Glob.Parse)];
        private readonly List<Glob> _exclude = [.. options.Exclude.Select(Glob.Parse)];
        private readonly List<Task<FetchResult?>> _files = [];
        private volatile bool _listingsRead = true;

        /// <summary>The cache paths of everything the server listed and the run kept (files and directories).</summary>
        public HashSet<string> Seen { get; } = new(StringComparer.Ordinal);

        /// <summary>Each listed directory's cache path (ending in '/') and the names its listing gave.</summary>
        public Dictionary<string, HashSet<string>> Listed { get; } = new(StringComparer.Ordinal);

        public bool ListingsRead => _listingsRead;

        /// <summary>The files' fetches, once the walk is over.</summary>
        public Task<FetchResult?>[] Files
        {
            get
            {
                lock (_gate)
                {
                    return [.. _files];
                }
            }
        }

        public async Task WalkAsync(Uri directory, int depth)
        {
            Remember(directory);
            var listing = await fetcher.FetchAsync(directory, keepBody: true, cancel, listing: true);
            if (!listing.Succeeded || listing.Body is null)
            {
                _listingsRead = false;
                return;
            }

            var entries = DirectoryListing.Entries(Encoding.UTF8.GetString(listing.Body), directory);
            if (DirectoryOf(proxy, directory) is { } listedDirectory)
            {
                lock (_gate)
                {
                    Listed[listedDirectory] = [.. entries.Select(entry => Uri.UnescapeDataString(entry.Segments[^1].TrimEnd('/')))];
                }
            }

            var below = new List<Task>();
            foreach (var entry in entries)
            {
                var path = Uri.UnescapeDataString(entry.AbsolutePath[start.AbsolutePath.Length..]);
                if (_exclude.Any(glob => glob.IsMatch(path.TrimEnd('/'))))
                {
                    continue;
                }

                if (entry.AbsolutePath.EndsWith('/'))
                {
                    if (options.MaxDepth is not { } max || depth < max)
                    {
                        below.Add(WalkAsync(entry, depth + 1));
                    }

                    continue;
                }

                if (_include.Count > 0 && !_include.Any(glob => glob.IsMatch(path)))
                {
                    continue;
                }

                Remember(entry);
                var file = FetchFileAsync(fetcher, entry, options.MaxFileSize, cancel);
                lock (_gate)
                {
                    _files.Add(file);
                }
            }

            await Task.WhenAll(below);
        }

        private void Remember(Uri url)
        {
            if (proxy.CachePathOf(url) is { } path)
            {
                lock (_gate)
                {
                    Seen.Add(path);
                }
            }
        }
    }

    /// <summary>Fetches one file (or plans it, in a dry run); null when skipped for its size.</summary>
    private static async Task<FetchResult?> FetchFileAsync(Fetcher fetcher, Uri file, long? maxFileSize, CancellationToken cancel)
    {
        long? size = null;
        if (maxFileSize is { } max && (size = await fetcher.SizeAsync(file, cancel)) > max)
        {
            fetcher.Report.Note($"skipped {file} ({size} bytes, over --max-file-size)");
            return null;
        }

        return await fetcher.FetchAsync(file, keepBody: false, cancel, knownSize: size);
    }

    private static bool Vanished(string path, string start, Dictionary<string, HashSet<string>> listed)
    {
        var directory = start;
        while (true)
        {
            if (!listed.TryGetValue(directory, out var names))
            {
                return false; // a directory this run did not read: nothing is known of its files
            }

            var rest = path[directory.Length..];
            var slash = rest.IndexOf('/');
            var name = Uri.UnescapeDataString(slash < 0 ? rest : rest[..slash]);
            if (name == CacheLayout.IndexName && slash < 0)
            {
                return false; // the listing itself
            }

            if (!names.Contains(name))
            {
                return true;
            }

            if (slash < 0)
            {
                return false;
            }

            directory += rest[..(slash + 1)];
        }
    }

    /// <summary>The cache directory (ending in '/') a listed directory's files go to.</summary>
    private static string? DirectoryOf(EmbeddedProxy proxy, Uri directory) =>
        proxy.CachePathOf(directory) is { } index ? index[..(index.LastIndexOf('/') + 1)] : null;

    /// <summary>
    /// Removes what the server no longer lists: a stored file below the start whose way down leaves a listed
    /// directory by a name that directory no longer lists. Files below directories not read (deeper than
    /// --max-depth, excluded) or listed but not fetched (not included) stay.
    /// </summary>
    private static void DeleteVanished(EmbeddedProxy proxy, Uri start, HashSet<string> seen, Dictionary<string, HashSet<string>> listed, MirrorReport report, bool dryRun)
    {
        if (DirectoryOf(proxy, start) is not { } prefix)
        {
            return;
        }

        var store = proxy.Server.Store;
        foreach (var (path, _, _) in store.EnumerateBodies().Where(body => body.RelativePath.StartsWith(prefix, StringComparison.Ordinal)).ToList())
        {
            if (!seen.Contains(path) && Vanished(path, prefix, listed))
            {
                if (dryRun)
                {
                    report.Note($"would delete {path} (no longer listed)");
                    continue;
                }

                store.Remove(path);
                report.Note($"deleted {path} (no longer listed)");
            }
        }
    }
}
