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
    private readonly Lock _gate = new();
    private int _committing;
    private TaskCompletionSource _settled = Settled();

    /// <summary>Downloads in progress now.</summary>
    public int Count => _running.Count;

    /// <summary>The downloads in progress now (the console's live activity).</summary>
    public IEnumerable<Download> All => _running.Values;

    public Download? Find(string relativePath) => _running.TryGetValue(relativePath, out var download) ? download : null;

    /// <summary>Registers <paramref name="download"/> unless one for the same path is running; returns the one that runs.</summary>
    public Download Register(Download download) => _running.GetOrAdd(download.RelativePath, download);

    public void Remove(Download download) => _running.TryRemove(new KeyValuePair<string, Download>(download.RelativePath, download));

    /// <summary>
    /// Completes when no download whose clients have the whole body is still committing it into the tree (what a
    /// test waits for before it looks at the tree: the commit follows the last byte, see <see cref="Download"/>).
    /// </summary>
    public Task CommitsSettled
    {
        get
        {
            lock (_gate)
            {
                return _settled.Task;
            }
        }
    }

    /// <summary>A download has its whole body and commits it now.</summary>
    public void CommitStarted()
    {
        lock (_gate)
        {
            if (_committing++ == 0)
            {
                _settled = new(TaskCreationOptions.RunContinuationsAsynchronously);
            }
        }
    }

    /// <summary>Its commit is over (stored, refused or failed).</summary>
    public void CommitEnded()
    {
        lock (_gate)
        {
            if (--_committing == 0)
            {
                _settled.TrySetResult();
            }
        }
    }

    private static TaskCompletionSource Settled()
    {
        var settled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        settled.SetResult();
        return settled;
    }
}
