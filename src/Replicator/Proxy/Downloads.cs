using System.Collections.Concurrent;
using Replicator.Cache;
using Replicator.Fibers;
using Replicator.Http;
using Serilog;

namespace Replicator.Proxy;

/// <summary>The downloads in progress, by cache path: a request for a URL that is downloading follows that download.</summary>
internal sealed class Downloads
{
    private readonly ConcurrentDictionary<string, Download> _running = new(StringComparer.Ordinal);

    public Download? Find(string relativePath) => _running.TryGetValue(relativePath, out var download) ? download : null;

    public void Add(Download download) => _running[download.RelativePath] = download;

    public void Remove(Download download) => _running.TryRemove(new KeyValuePair<string, Download>(download.RelativePath, download));
}

/// <summary>
/// One upstream body being written into the cache by its own fiber, so that no client's pace (or departure) holds it
/// up. Clients do not get the bytes from it: they follow the file on disk up to <see cref="Available"/>, woken by
/// <see cref="Progress"/>, so memory does not grow with the number or slowness of readers. The body becomes a file
/// of the tree only when every announced byte arrived (or the chunked body ended properly); otherwise it is dropped.
/// </summary>
internal sealed class Download
{
    private readonly ProxyServer _server;
    private readonly PartialBody _partial;
    private long _available;
    private int _references = 1;
    private volatile bool _complete;
    private volatile Exception? _error;

    public Download(ProxyServer server, RequestUrl url, PartialBody partial, StoredResponse stored, long? length)
    {
        _server = server;
        Url = url;
        _partial = partial;
        Stored = stored;
        Length = length;
    }

    public RequestUrl Url { get; }

    public string RelativePath => _partial.RelativePath;

    /// <summary>The response as it will be stored (its Length is the announced one, or -1 until known).</summary>
    public StoredResponse Stored { get; }

    /// <summary>The announced length, or null (chunked or close-delimited) until the body ends.</summary>
    public long? Length { get; private set; }

    public Microsoft.Win32.SafeHandles.SafeFileHandle File => _partial.Handle;

    /// <summary>Bytes written to the file so far; they can be read by anyone.</summary>
    public long Available => Interlocked.Read(ref _available);

    public bool Complete => _complete;

    public Exception? Error => _error;

    /// <summary>Raised whenever bytes land, and at the end.</summary>
    public FiberSignal Progress { get; } = new();

    /// <summary>
    /// Takes a reference to the file for a reader; false when the download is over and its file closed. The file
    /// stays open (even once renamed into the tree, or deleted) until the writer and every reader have let go.
    /// </summary>
    public bool TryAcquire()
    {
        var references = Volatile.Read(ref _references);
        while (references > 0)
        {
            var seen = Interlocked.CompareExchange(ref _references, references + 1, references);
            if (seen == references)
            {
                return true;
            }

            references = seen;
        }

        return false;
    }

    public void Release()
    {
        if (Interlocked.Decrement(ref _references) == 0)
        {
            _partial.Dispose();
        }
    }

    public void Start(Fiber client, UpstreamConnection upstream, ResponseHead response, Framing framing)
    {
        _server.Downloads.Add(this);
        client.Loop.Spawn($"download {Url}", fiber => RunAsync(fiber, upstream, response, framing));
    }

    private async ValueTask RunAsync(Fiber fiber, UpstreamConnection upstream, ResponseHead response, Framing framing)
    {
        var reader = new BodyReader(upstream.Connection, framing, 502);
        try
        {
            while (await reader.ReadAsync(fiber, _server.Settings.Timeout, static (piece, download) => download.Write(piece), this))
            {
            }

            var received = Available;
            if (Length is { } announced && received != announced)
            {
                throw new IOException($"received {received} of {announced} bytes");
            }

            Length = received;
            var stored = new StoredResponse
            {
                Headers = Stored.Headers,
                RequestTime = Stored.RequestTime,
                ResponseTime = Stored.ResponseTime,
                Length = received,
                BodyStamp = Stored.BodyStamp,
                Url = Stored.Url,
                VaryKey = Stored.VaryKey,
            };
            if (_server.Store.Commit(_partial, stored))
            {
                Log.Information("Stored {Url:l} ({Bytes} bytes)", Url.ToString(), received);
            }
            else
            {
                Log.Warning("Not stored {Url:l}: a file and a directory of the cache tree would collide", Url.ToString());
            }

            _complete = true;
            Forwarder.Release(upstream, response, framing);
        }
        catch (Exception e)
        {
            _error = e;
            upstream.Dispose();
            _server.Store.Discard(_partial);
            Log.Warning("Download of {Url:l} failed after {Bytes} bytes: {Reason:l}", Url.ToString(), Available, e.Message);
        }
        finally
        {
            _server.Downloads.Remove(this);
            Progress.Raise();
            Release();
        }
    }

    private ValueTask Write(ReadOnlyMemory<byte> piece)
    {
        RandomAccess.Write(_partial.Handle, piece.Span, Available);
        Interlocked.Add(ref _available, piece.Length);
        Progress.Raise();
        return ValueTask.CompletedTask;
    }
}
