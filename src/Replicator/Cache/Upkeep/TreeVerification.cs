using Replicator.Cache.Packages;

namespace Replicator.Cache.Upkeep;

/// <summary>One stored file that is not what it should be, and whether it was moved aside.</summary>
internal sealed record DamagedFile(string Path, string Reason, bool MovedAside);

/// <summary>
/// Every file of the tree checked against its metadata (length and time stamp) and, for a file a cached package index
/// lists, against the SHA256 the index gives (issue 14: `replicator cache verify`, and the console's "verify"). With
/// <c>fix</c>, a damaged file is moved aside (ROOT/.replicator/damaged/), so that it is fetched again.
/// </summary>
internal static class TreeVerification
{
    public static (int Checked, IReadOnlyList<DamagedFile> Damaged) Run(CacheStore store, bool fix, Action<int>? progress = null, CancellationToken cancel = default)
    {
        var indexes = new PackageIndexes();
        indexes.LearnTree(store);
        var checkedFiles = 0;
        var damaged = new List<DamagedFile>();
        foreach (var (path, length, _) in store.EnumerateBodies())
        {
            cancel.ThrowIfCancellationRequested();
            progress?.Invoke(++checkedFiles);
            var reason = store.Damage(path);
            if (reason is null && indexes.Expect(path) is { } expected)
            {
                using var body = store.Tree.OpenForReading(store.BodyPath(path));
                var sha256 = PackageIndexes.Sha256Of(body);
                if (!string.Equals(sha256, expected.Sha256, StringComparison.OrdinalIgnoreCase) || (expected.Size is { } size && size != length))
                {
                    reason = $"{length} bytes, SHA256 {sha256}; {expected.Source} says {(expected.Size is { } s ? $"{s} bytes, " : string.Empty)}SHA256 {expected.Sha256}";
                }
            }

            if (reason is not null)
            {
                if (fix)
                {
                    store.MoveAside(path);
                }

                damaged.Add(new DamagedFile(path, reason, fix));
            }
        }

        return (checkedFiles, damaged);
    }
}
