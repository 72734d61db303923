using System.Text;
using Replicator.Cache.Packages;

namespace Replicator.Mirror;

/// <summary>Which part of an apt repository to mirror.</summary>
internal sealed record AptMirrorOptions
{
    public required IReadOnlyList<string> Suites { get; init; }

    public required IReadOnlyList<string> Components { get; init; }

    public required IReadOnlyList<string> Architectures { get; init; }

    /// <summary>The packages asked for (with their dependencies); null: every package of the indexes.</summary>
    public IReadOnlyList<string>? Packages { get; init; }

    /// <summary>Also the Sources indexes and the source packages of the chosen binaries.</summary>
    public bool Source { get; init; }
}

/// <summary>
/// <c>replicator mirror apt URL --suite S --component C --arch A</c> (issue 15, point 2): fetches each suite's
/// InRelease (or Release and Release.gpg), the indexes it lists for those components and architectures (by their
/// names and, when the Release says Acquire-By-Hash, by hash, as apt asks for them), then the package files, all or
/// the closure of --packages; with --source the Sources indexes and the chosen packages' sources. Everything goes
/// through the embedded proxy, which checks each file against the repository's own indexes before it enters the
/// tree, so the result is what apt reads from a Replicator started with --offline on that tree.
/// </summary>
internal static class AptMirror
{
    private static readonly string[] s_compressions = ["", ".xz", ".gz", ".bz2", ".zst", ".lz4"];

    public static async Task<bool> RunAsync(Fetcher fetcher, Uri repository, AptMirrorOptions options, CancellationToken cancel)
    {
        var root = repository.AbsoluteUri.EndsWith('/') ? repository : new Uri(repository.AbsoluteUri + "/");
        var binaries = new PackageCatalog();
        var sources = new List<IReadOnlyDictionary<string, string>>();
        var complete = true;
        foreach (var suite in options.Suites)
        {
            var dists = new Uri(root, $"dists/{suite}/");
            var release = await FetchReleaseAsync(fetcher, dists, cancel);
            if (release is null)
            {
                complete = false;
                continue;
            }

            var listed = DebianIndex.ReadRelease(new StringReader(release)).ToList();
            var byHash = release.Contains("Acquire-By-Hash: yes", StringComparison.OrdinalIgnoreCase);
            foreach (var group in WantedIndexes(options).Select(name => listed.Where(file => file.Path.StartsWith(name, StringComparison.Ordinal) && s_compressions.Contains(file.Path[name.Length..])).ToList()))
            {
                // Every variant apt may ask for (Packages.xz, .gz...), by name and by hash; one of them is read here.
                var read = false;
                foreach (var file in group.OrderBy(file => Array.IndexOf(s_compressions, Path.GetExtension(file.Path) is ".xz" or ".gz" or ".bz2" or ".zst" or ".lz4" ? Path.GetExtension(file.Path) : string.Empty)))
                {
                    var result = await fetcher.FetchAsync(new Uri(dists, file.Path), keepBody: !read, cancel, knownSize: file.Size);
                    complete &= result.Succeeded;
                    if (byHash)
                    {
                        var directory = file.Path[..(file.Path.LastIndexOf('/') + 1)];
                        complete &= (await fetcher.FetchAsync(new Uri(dists, $"{directory}by-hash/SHA256/{file.Sha256}"), keepBody: false, cancel, knownSize: file.Size)).Succeeded;
                    }

                    if (!read && result is { Succeeded: true, Body: { } body })
                    {
                        read = Read(file.Path, body, options, binaries, sources, fetcher.Report);
                    }
                }
            }
        }

        var (packages, unsatisfied) = options.Packages is { } names ? binaries.Closure(names) : ([.. binaries.All], []);
        foreach (var missing in unsatisfied)
        {
            fetcher.Report.Note($"unsatisfied: {missing}");
        }

        var files = packages.Select(package => (Path: package.Filename, package.Size)).ToList();
        if (options.Source)
        {
            var wanted = packages.Select(package => package.Source).ToHashSet(StringComparer.Ordinal);
            files.AddRange(DebianIndex.ReadSources(new StringReader(string.Join("\n\n", sources.Where(stanza => wanted.Contains(stanza.GetValueOrDefault("Package") ?? string.Empty)).Select(Text)))).Select(file => (file.Path, (long?)file.Size)));
        }

        fetcher.Report.Note($"{packages.Count} packages chosen, {files.Count} files");
        var results = await Task.WhenAll(files.DistinctBy(file => file.Path, StringComparer.Ordinal).Select(file => fetcher.FetchAsync(new Uri(root, file.Path), keepBody: false, cancel, knownSize: file.Size)));
        return complete && unsatisfied.Count == 0 && results.All(result => result.Succeeded);
    }

    /// <summary>InRelease, or else Release with Release.gpg (apt's order); null when neither could be fetched.</summary>
    private static async Task<string?> FetchReleaseAsync(Fetcher fetcher, Uri dists, CancellationToken cancel)
    {
        var inRelease = await fetcher.FetchAsync(new Uri(dists, "InRelease"), keepBody: true, cancel, optional: true);
        if (inRelease is { Succeeded: true, Body: { } signed })
        {
            return Encoding.UTF8.GetString(signed);
        }

        var release = await fetcher.FetchAsync(new Uri(dists, "Release"), keepBody: true, cancel);
        if (release is not { Succeeded: true, Body: { } plain })
        {
            fetcher.Report.Note($"FAILED {dists}: neither InRelease nor Release could be fetched");
            return null;
        }

        await fetcher.FetchAsync(new Uri(dists, "Release.gpg"), keepBody: false, cancel, optional: true);

        return Encoding.UTF8.GetString(plain);
    }

    /// <summary>The index names (without compression) wanted for the components and architectures asked for.</summary>
    private static IEnumerable<string> WantedIndexes(AptMirrorOptions options)
    {
        foreach (var component in options.Components)
        {
            foreach (var architecture in options.Architectures)
            {
                yield return $"{component}/binary-{architecture}/Packages";
            }

            yield return $"{component}/i18n/Translation-en";
            if (options.Source)
            {
                yield return $"{component}/source/Sources";
            }
        }
    }

    /// <summary>Reads a fetched Packages or Sources index into the catalog; false when it cannot be read (another variant is tried).</summary>
    private static bool Read(string path, byte[] body, AptMirrorOptions options, PackageCatalog binaries, List<IReadOnlyDictionary<string, string>> sources, MirrorReport report)
    {
        var name = DebianIndex.NameOf(path).ToString();
        if (DebianIndex.KindOf(name) is not { } kind || kind == IndexKind.Release)
        {
            return true; // a translation: nothing to read
        }

        try
        {
            using var text = new StreamReader(DebianIndex.Decompressed(new MemoryStream(body), name));
            foreach (var stanza in DebianIndex.ReadStanzas(text))
            {
                if (kind == IndexKind.Sources)
                {
                    sources.Add(stanza);
                }
                else if (options.Architectures.Contains(stanza.GetValueOrDefault("Architecture") ?? "all") || stanza.GetValueOrDefault("Architecture") == "all")
                {
                    binaries.Add(stanza);
                }
            }

            return true;
        }
        catch (Exception e) when (e is IOException or InvalidDataException or NotSupportedException)
        {
            report.Note($"cannot read {path}: {e.Message}");
            return false;
        }
    }

    private static string Text(IReadOnlyDictionary<string, string> stanza) =>
        string.Join("\n", stanza.Select(field => $"{field.Key}: {field.Value.Replace("\n", "\n ", StringComparison.Ordinal)}"));
}
