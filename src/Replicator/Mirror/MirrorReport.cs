using System.Collections.Concurrent;
using System.Diagnostics;
using Replicator.Cache.Upkeep;

namespace Replicator.Mirror;

/// <summary>
/// What the user sees of a mirror run (issue 15, point 4), and the one place that counts it. Not on a terminal (a
/// log, a pipe, a script): one plain line per finished file (<c>downloaded URL (N bytes)</c>, <c>current URL</c>,
/// <c>FAILED URL: reason</c>) and the run's other lines as they come. On a terminal: a live view instead (see
/// <see cref="LiveProgress"/>). Either way a summary at the end: files fetched, already current, verified against
/// the repository's indexes, failed with their reasons.
/// </summary>
internal sealed class MirrorReport : IAsyncDisposable
{
    private readonly TextWriter _output;
    private readonly LiveProgress? _live;
    private readonly ConcurrentDictionary<Uri, InFlight> _running = new();
    private readonly ConcurrentQueue<string> _failures = new();
    private readonly ConcurrentQueue<string> _notes = new();
    private readonly ConcurrentQueue<string> _latest = new();
    private readonly long _started = Stopwatch.GetTimestamp();
    private long _planned, _downloaded, _downloadedBytes, _current, _verified, _failed, _listings, _received;
    private long _wouldFetch, _wouldFetchBytes, _unknownSizes, _inTree;
    private readonly bool _dryRun;

    /// <param name="live">Whether the output is a terminal that gets the live view.</param>
    /// <param name="dryRun">--dry-run: the files are only planned (<see cref="FileWouldBeFetched"/>, <see cref="FileInTree"/>).</param>
    public MirrorReport(TextWriter output, bool live, bool dryRun = false)
    {
        _output = output;
        _dryRun = dryRun;
        _live = live ? LiveProgress.Start(this) : null;
    }

    public long Downloaded => Interlocked.Read(ref _downloaded);

    public long DownloadedBytes => Interlocked.Read(ref _downloadedBytes);

    public long Current => Interlocked.Read(ref _current);

    public long Verified => Interlocked.Read(ref _verified);

    public long Failed => Interlocked.Read(ref _failed);

    /// <summary>Files known so far that the run will fetch or check (a tree's grow as its listings are read).</summary>
    public long Planned => Interlocked.Read(ref _planned);

    public long Finished => Downloaded + Current + Failed + Interlocked.Read(ref _wouldFetch) + Interlocked.Read(ref _inTree);

    public TimeSpan Elapsed => Stopwatch.GetElapsedTime(_started);

    /// <summary>The files being fetched now, oldest first.</summary>
    public IEnumerable<InFlight> Running => _running.Values.ToArray().OrderBy(file => file.Started); // ToArray: a snapshot under its locks

    /// <summary>Bytes of bodies received so far, the files in flight included.</summary>
    public long ReceivedBytes => Interlocked.Read(ref _received);

    /// <summary>The latest lines of the run (notes and failures), for the live view.</summary>
    public IReadOnlyList<string> Latest(int count) => [.. _latest.ToArray().TakeLast(count)];

    public void Plan(int files) => Interlocked.Add(ref _planned, files);

    /// <summary>A fetch of <paramref name="url"/> begins: what the fetch tells of its body goes to the returned entry.</summary>
    public InFlight Started(Uri url) => _running[url] = new InFlight(url, Stopwatch.GetTimestamp());

    /// <summary>Another <paramref name="bytes"/> of the body of <paramref name="file"/> arrived.</summary>
    public void Received(InFlight file, long bytes)
    {
        Interlocked.Add(ref _received, bytes);
        Interlocked.Add(ref file.Bytes, bytes);
    }

    /// <summary>A listing (or an index) was read: it is not one of the files.</summary>
    public void ListingRead(Uri url)
    {
        _running.TryRemove(url, out _);
        Interlocked.Increment(ref _listings);
    }

    /// <summary>A fetch that counts as nothing (an optional file that is not there).</summary>
    public void Dropped(Uri url) => _running.TryRemove(url, out _);

    public void FileDownloaded(Uri url, long bytes, bool verified)
    {
        Interlocked.Increment(ref _downloaded);
        Interlocked.Add(ref _downloadedBytes, bytes);
        if (verified)
        {
            Interlocked.Increment(ref _verified);
        }

        End(url, $"downloaded {url} ({bytes} bytes{(verified ? ", verified" : string.Empty)})");
    }

    public void FileCurrent(Uri url)
    {
        Interlocked.Increment(ref _current);
        End(url, $"current {url}");
    }

    public void FileFailed(Uri url, string reason)
    {
        Interlocked.Increment(ref _failed);
        var line = $"FAILED {url}: {reason}";
        _failures.Enqueue(line);
        End(url, line, note: true);
    }

    /// <summary>--dry-run: the file is not complete in the tree, so a run would fetch it; its size when known.</summary>
    public void FileWouldBeFetched(Uri url, long? size)
    {
        Interlocked.Increment(ref _wouldFetch);
        if (size is { } known)
        {
            Interlocked.Add(ref _wouldFetchBytes, known);
        }
        else
        {
            Interlocked.Increment(ref _unknownSizes);
        }

        End(url, $"would fetch {url} ({(size is { } bytes ? $"{bytes} bytes" : "size unknown")})");
    }

    /// <summary>--dry-run: the file is complete in the tree already; a run checks it (or not, by its file class).</summary>
    public void FileInTree(Uri url)
    {
        Interlocked.Increment(ref _inTree);
        End(url, $"in the tree {url}");
    }

    /// <summary>A line of the run that is not a file's end (a package nothing provides, a file deleted or skipped...).</summary>
    public void Note(string line)
    {
        _notes.Enqueue(line);
        Show(line);
        if (_live is null)
        {
            Print(line);
        }
    }

    /// <summary>Ends the live view and prints the summary; true when nothing failed.</summary>
    public async Task<bool> SummarizeAsync()
    {
        if (_live is not null)
        {
            await _live.StopAsync();
            foreach (var note in _notes)
            {
                _output.WriteLine(note);
            }
        }

        if (_dryRun)
        {
            var unknown = Interlocked.Read(ref _unknownSizes);
            _output.WriteLine($"dry run: {Interlocked.Read(ref _listings)} listings read; {Interlocked.Read(ref _wouldFetch)} files would be fetched " +
                $"({ByteSize.Format(Interlocked.Read(ref _wouldFetchBytes))}{(unknown > 0 ? $", {unknown} of unknown size" : string.Empty)}), " +
                $"{Interlocked.Read(ref _inTree)} already in the tree; nothing was stored");
        }
        else
        {
            _output.WriteLine($"{Interlocked.Read(ref _listings)} listings read; {Finished} files: {Downloaded} downloaded ({ByteSize.Format(DownloadedBytes)}), {Current} already complete, {Failed} failed");
            _output.WriteLine($"{Verified} verified against the repository's indexes (size and SHA256); {Elapsed.TotalSeconds:0.0} s");
        }

        if (!_failures.IsEmpty)
        {
            _output.WriteLine("failed:");
            foreach (var failure in _failures)
            {
                _output.WriteLine("  " + failure);
            }
        }

        return Failed == 0;
    }

    public async ValueTask DisposeAsync()
    {
        if (_live is not null)
        {
            await _live.StopAsync();
            _live.Dispose();
        }
    }

    private void End(Uri url, string line, bool note = false)
    {
        _running.TryRemove(url, out _);
        if (_live is null)
        {
            Print(line);
        }
        else if (note)
        {
            Show(line);
        }
    }

    /// <summary>A line of the plain output; fetches end on several threads at once.</summary>
    private void Print(string line)
    {
        lock (_output)
        {
            _output.WriteLine(line);
        }
    }

    /// <summary>Keeps a line for the live view, which shows the latest few.</summary>
    private void Show(string line)
    {
        _latest.Enqueue(line);
        while (_latest.Count > 16)
        {
            _latest.TryDequeue(out _);
        }
    }
}

/// <summary>A file being fetched now, as the live view shows it.</summary>
internal sealed class InFlight(Uri url, long started)
{
    public Uri Url { get; } = url;

    public long Started { get; } = started;

    /// <summary>Bytes received so far (updated by the fetch, read by the view).</summary>
    public long Bytes;

    public long? Length { get; set; }
}
