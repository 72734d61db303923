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
/// implementation of any of it exists. Its requests are asked in-process (<see cref="AskAsync"/>): each runs on the
/// proxy's loops as a client's does, without a socket, so a small file costs the proxy's work for it and not two
/// HTTP messages and a loopback connection's system calls and thread hand-offs besides.
/// </summary>
internal sealed class EmbeddedProxy : IAsyncDisposable
{
    private readonly FiberEngine _engine;

    public EmbeddedProxy(ProxyOptions proxy, CacheOptions cache, int loops)
    {
        _engine = new FiberEngine(new FiberEngineOptions { LoopCount = loops });
        Server = new ProxyServer(proxy, cache, new FileSystem());
        _engine.Start();
    }

    public ProxyServer Server { get; }

    /// <summary>
    /// Asks the proxy for <paramref name="url"/> (<see cref="ProxyServer.AnswerInProcessAsync"/>), with the request's
    /// Cache-Control if any; the exchange tells the status and the outcome, <paramref name="response"/> the rest.
    /// </summary>
    public Task<Exchange> AskAsync(string method, RequestUrl url, string? cacheControl, InProcessResponse response)
    {
        var headers = new HttpHeaders();
        headers.Add("Host", url.Authority);
        headers.Add("Connection", "keep-alive");
        if (cacheControl is not null)
        {
            headers.Add("Cache-Control", cacheControl);
        }

        // HTTP/1.0: a body is never chunked, so what follows the head is the body (see InProcessResponse). An https URL
        // is asked in the proxy's explicit form (/https/HOST/PATH), which it fetches over TLS: in absolute form, a
        // client sends https through CONNECT, which is tunnelled, not cached.
        var target = url.Secure ? $"/{MirrorRoutes.HttpsPrefix}/{url.Authority}{url.PathAndQuery}" : url.ToString();
        var request = new RequestHead { Method = method, Target = target, Version = HttpVersion.Version10, Headers = headers };
        var answered = new TaskCompletionSource<Exchange>(TaskCreationOptions.RunContinuationsAsynchronously);
        _engine.Spawn($"mirror {method} {url}", async fiber =>
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
            return CacheLayout.RelativePath(RequestUrl.ParseAbsolute(url.AbsoluteUri, allowHttps: true)) is { } natural ? Server.CacheOptions.Mapping.Map(natural) : null;
        }
        catch (HttpParseException)
        {
            return null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _engine.StopAsync(TimeSpan.FromSeconds(10));
        _engine.Dispose();
        Server.Dispose();
    }
}
