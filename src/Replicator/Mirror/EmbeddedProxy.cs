using System.Collections.Concurrent;
using System.IO.Abstractions;
using System.Net;
using Replicator.Cache;
using Replicator.Fibers;
using Replicator.Http;
using Replicator.Proxy;

namespace Replicator.Mirror;

/// <summary>
/// Why the mirror runs a proxy inside itself (issue 15): every file it fetches then goes through exactly the code a
/// proxied request does (the store, partials and resume, verification against the package indexes, file classes,
/// the address rules, --external, --limit), so a mirrored tree is the tree the proxy would have built, and no second
/// implementation of any of it exists. A file is asked for in-process (<see cref="GetAsync"/>): the request runs on
/// the proxy's loops as a client's does, without a socket. What the crawler reads itself (listings, indexes) it asks
/// for over HTTP, from a loopback port the proxy listens on for this process only, and each such answer's outcome
/// (MISS, HIT, REVALIDATED...) comes from its access record.
/// </summary>
internal sealed class EmbeddedProxy : IAsyncDisposable
{
    private readonly FiberEngine _engine;
    private readonly ConcurrentDictionary<string, TaskCompletionSource<AccessRecord>> _waiting = new(StringComparer.Ordinal);

    public EmbeddedProxy(ProxyOptions proxy, CacheOptions cache, int loops, int connections)
    {
        _engine = new FiberEngine(new FiberEngineOptions { LoopCount = loops });
        Server = new ProxyServer(proxy with { Access = ClientAccess.LoopbackOnly, MaxClientConnections = 0 }, cache, new FileSystem()) { OnAccess = Accessed };
        var endpoint = Server.Listen(_engine, new IPEndPoint(IPAddress.Loopback, 0));
        _engine.Start();
        Client = new HttpClient(new SocketsHttpHandler
        {
            Proxy = new WebProxy($"http://{endpoint}"),
            UseProxy = true,
            AutomaticDecompression = DecompressionMethods.None,
            AllowAutoRedirect = false,
            MaxConnectionsPerServer = connections,
        })
        { Timeout = Timeout.InfiniteTimeSpan };
    }

    public ProxyServer Server { get; }

    /// <summary>A client whose every request goes through the embedded proxy.</summary>
    public HttpClient Client { get; }

    /// <summary>
    /// The access record of the next GET of <paramref name="url"/> (as the proxy spells it): register before
    /// sending, await after the body was read (the record is written just after the response).
    /// </summary>
    public Task<AccessRecord> NextAccess(string url) =>
        _waiting.GetOrAdd(url, static _ => new TaskCompletionSource<AccessRecord>(TaskCreationOptions.RunContinuationsAsynchronously)).Task;

    /// <summary>
    /// GETs <paramref name="url"/> through the proxy without a connection (<see cref="ProxyServer.AnswerInProcessAsync"/>):
    /// what a file of the mirror costs is the proxy's work for it, not two HTTP messages and a loopback socket besides.
    /// <paramref name="cacheControl"/> is the request's Cache-Control; the exchange tells the status and the outcome.
    /// </summary>
    public Task<Exchange> GetAsync(RequestUrl url, string cacheControl, InProcessResponse response)
    {
        var headers = new HttpHeaders();
        headers.Add("Host", url.Authority);
        headers.Add("Connection", "keep-alive");
        headers.Add("Cache-Control", cacheControl);
        var request = new RequestHead { Method = "GET", Target = url.ToString(), Version = HttpVersion.Version10, Headers = headers };
        var answered = new TaskCompletionSource<Exchange>(TaskCreationOptions.RunContinuationsAsynchronously);
        _engine.Spawn($"mirror {url}", async fiber =>
        {
            try
            {
                answered.TrySetResult(await Server.AnswerInProcessAsync(fiber, request, response, "mirror"));
            }
            catch (Exception e)
            {
                answered.TrySetException(e);
            }
        });
        return answered.Task;
    }

    /// <summary>Where the proxy keeps <paramref name="url"/> in the tree (--alias and --flat applied); null when it keeps it nowhere.</summary>
    public string? CachePathOf(Uri url)
    {
        try
        {
            return CacheLayout.RelativePath(RequestUrl.ParseAbsolute(url.AbsoluteUri)) is { } natural ? Server.CacheOptions.Mapping.Map(natural) : null;
        }
        catch (HttpParseException)
        {
            return null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await _engine.StopAsync(TimeSpan.FromSeconds(10));
        _engine.Dispose();
        Server.Dispose();
    }

    private void Accessed(AccessRecord record)
    {
        // GETs only: the HEAD asked first for a file's size must not answer for its GET.
        if (record.Method == "GET" && _waiting.TryRemove(record.Url, out var waiting))
        {
            waiting.TrySetResult(record);
        }
    }
}
