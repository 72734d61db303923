namespace Replicator.Cache;

/// <summary>
/// Stored bodies kept in memory between requests, so that a hit need not open its file: small bodies copied
/// (<see cref="CopiedBody"/>), large ones mapped for clients on this host (<see cref="MappedBody"/>).
/// </summary>
/// <remarks>
/// The tree stays the truth. A kept body is found by its path and checked against the file's identity (device,
/// inode, length, change time; one statx(2)) at every lease: a body replaced by rename or written in place is
/// kept afresh, and readers of the old one finish with the old bytes. A body is given back (disposed) after use;
/// kept bodies over the budgets go least recently leased first, and any not leased for a while is let go, so a
/// deleted file's space is freed and an idle proxy holds no bodies.
/// </remarks>
internal sealed class KeptBodies<TBody>
    where TBody : KeptBody
{
    private static readonly TimeSpan s_sweepEvery = TimeSpan.FromSeconds(10);

    private readonly Dictionary<string, TBody> _byPath = new(StringComparer.Ordinal);
    private readonly LinkedList<KeptBody> _recent = new();
    private readonly TimeProvider _clock;
    private readonly Func<string, TBody?> _keep;
    private readonly long _largest;
    private readonly long _byteBudget;
    private readonly int _countBudget;
    private readonly TimeSpan _idleAfter;
    private ITimer? _sweeper;
    private long _keptBytes;

    /// <param name="clock">Decides when a body has been idle long enough to let go.</param>
    /// <param name="keep">Reads or maps the file at a path as it is then; null when it is empty or too large by then.</param>
    /// <param name="largest">Bodies longer than this are never kept.</param>
    /// <param name="byteBudget">Most bytes kept.</param>
    /// <param name="countBudget">Most bodies kept.</param>
    /// <param name="idleAfter">A body not leased for this long is let go.</param>
    public KeptBodies(TimeProvider clock, Func<string, TBody?> keep, long largest, long byteBudget, int countBudget, TimeSpan idleAfter)
    {
        _clock = clock;
        _keep = keep;
        _largest = largest;
        _byteBudget = byteBudget;
        _countBudget = countBudget;
        _idleAfter = idleAfter;
    }

    /// <summary>How many bodies are kept.</summary>
    public int Count
    {
        get
        {
            lock (_byPath)
            {
                return _byPath.Count;
            }
        }
    }

    /// <summary>
    /// A lease on the body at <paramref name="path"/> (dispose it when done); null when the body is empty or longer
    /// than the largest kept. Throws <see cref="FileNotFoundException"/> when nothing is there.
    /// </summary>
    public TBody? Lease(string path)
    {
        if (!NativeFile.TryGetIdentity(path, out var identity))
        {
            throw new FileNotFoundException($"{path} is gone", path);
        }

        lock (_byPath)
        {
            if (_byPath.TryGetValue(path, out var known) && known.Identity == identity)
            {
                known.Leases++;
                known.LastLeased = _clock.GetTimestamp();
                _recent.Remove(known.Node!);
                _recent.AddFirst(known.Node!);
                return known;
            }
        }

        if (identity.Length == 0 || identity.Length > _largest || _keep(path) is not { } body)
        {
            return null;
        }

        lock (_byPath)
        {
            if (_byPath.Remove(path, out var previous))
            {
                Drop(previous);
            }

            body.Release = Release;
            body.Leases = 1;
            body.LastLeased = _clock.GetTimestamp();
            body.Node = _recent.AddFirst(body);
            _byPath[path] = body;
            _keptBytes += body.Length;
            while ((_keptBytes > _byteBudget || _byPath.Count > _countBudget) && _recent.Last!.Value != body)
            {
                var oldest = _recent.Last.Value;
                _byPath.Remove(oldest.Path);
                Drop(oldest);
            }

            _sweeper ??= _clock.CreateTimer(_ => Sweep(), null, s_sweepEvery, s_sweepEvery);
        }

        return body;
    }

    /// <summary>Lets go of bodies not leased for the idle time; stops sweeping when none is left.</summary>
    private void Sweep()
    {
        lock (_byPath)
        {
            var now = _clock.GetTimestamp();
            for (var node = _recent.Last; node is not null;)
            {
                var body = node.Value;
                node = node.Previous;
                if (body.Leases == 0 && _clock.GetElapsedTime(body.LastLeased, now) >= _idleAfter)
                {
                    _byPath.Remove(body.Path);
                    Drop(body);
                }
            }

            if (_byPath.Count == 0)
            {
                _sweeper?.Dispose();
                _sweeper = null;
            }
        }
    }

    private void Release(KeptBody body)
    {
        lock (_byPath)
        {
            body.Leases--;
            body.LastLeased = _clock.GetTimestamp();
            if (body.Leases == 0 && body.Node is null)
            {
                body.Free();
            }
        }
    }

    /// <summary>Takes a body out of the kept ones; it is freed with its last lease.</summary>
    private void Drop(KeptBody body)
    {
        _recent.Remove(body.Node!);
        body.Node = null;
        _keptBytes -= body.Length;
        if (body.Leases == 0)
        {
            body.Free();
        }
    }
}

/// <summary>A body kept by <see cref="KeptBodies{TBody}"/>; each lease on it is given back by <see cref="Dispose"/>.</summary>
internal abstract class KeptBody(string path, FileIdentity identity) : IDisposable
{
    public string Path { get; } = path;

    /// <summary>The file that is kept (which may no longer be the one at <see cref="Path"/>).</summary>
    public FileIdentity Identity { get; } = identity;

    public long Length => Identity.Length;

    internal Action<KeptBody>? Release { get; set; }

    internal int Leases { get; set; }

    internal long LastLeased { get; set; }

    internal LinkedListNode<KeptBody>? Node { get; set; }

    public void Dispose() => Release?.Invoke(this);

    /// <summary>Frees what holds the bytes, once no lease is left and the body is no longer kept.</summary>
    protected internal virtual void Free()
    {
    }
}
