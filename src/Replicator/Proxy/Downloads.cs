using System.Collections.Concurrent;

namespace Replicator.Proxy;

/// <summary>
/// The downloads in progress, by cache path. A download is registered before the origin is even asked, so that
/// clients arriving at the same moment (on any loop) join it instead of starting their own: the origin sees one
/// request per URL, and no two downloads ever write the same partial file.
/// </summary>
internal sealed class Downloads
{
    private readonly ConcurrentDictionary<string, Download> _running = new(StringComparer.Ordinal);

    public Download? Find(string relativePath) => _running.TryGetValue(relativePath, out var download) ? download : null;

    /// <summary>Registers <paramref name="download"/> unless one for the same path is running; returns the one that runs.</summary>
    public Download Register(Download download) => _running.GetOrAdd(download.RelativePath, download);

    public void Remove(Download download) => _running.TryRemove(new KeyValuePair<string, Download>(download.RelativePath, download));
}
