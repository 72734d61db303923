using System.Buffers;
using System.Collections.Concurrent;
using System.Net.Sockets;
using Replicator.Fibers;
using Replicator.Http;

namespace Replicator.Proxy;

/// <summary>An origin's answer: its final response head, and the connection its body (if any) follows on.</summary>
internal sealed record OriginResponse(UpstreamConnection Connection, ResponseHead Head);

/// <summary>
/// The origin side: it owns the upstream connections (one pool per loop, held here rather than in a thread-static,
/// so that each proxy in a process has its own), the parent proxy, the address and port rules, and pacing. It sends
/// a request (with its body, framed anew) and reads the final response head within --upstream-head-timeout.
/// </summary>
internal sealed class OriginClient(ProxyOptions options, bool offline, TimeProvider clock, ProxyMetrics? metrics = null)
{
    private readonly ConcurrentDictionary<FiberLoop, UpstreamPool> _pools = new();
    private readonly TlsCheck _tls = new(UpstreamTls.Validator(options.ExtraAuthorities));

    /// <summary>The idle connections of <paramref name="fiber"/>'s loop (a fiber never leaves its loop, nor do they).</summary>
    public UpstreamPool PoolOf(Fiber fiber) => _pools.GetOrAdd(fiber.Loop, static _ => new UpstreamPool());

    /// <summary>A pacer for one transfer at --limit, or null without a limit.</summary>
    public Pacer? PacerFor(Fiber fiber) => Pacer.For(options.Limit, fiber);

    /// <summary>A direct connection to host:port under the address rules (a CONNECT tunnel's far end).</summary>
    public ValueTask<Socket> ConnectAsync(Fiber fiber, string host, int port, TimeSpan timeout) => UpstreamPool.ConnectAsync(fiber, host, port, timeout, options.Upstream);

    /// <summary>
    /// Sends a request to the origin and reads the final response head (1xx answers are relayed to an HTTP/1.1
    /// client). A pooled connection that fails before any response byte is replaced once by a new one, unless the
    /// request had a body already sent. A request with <see cref="Exchange.Alternates"/> (a --mirror name with several
    /// URLs) goes to the next one when an upstream cannot be reached or answers 5xx; the last one's answer stands.
    /// </summary>
    public async ValueTask<OriginResponse> ExchangeAsync(Exchange exchange, string method, HttpHeaders endToEnd, Framing requestBody)
    {
        var url = exchange.Url!;
        if (offline)
        {
            throw new ProxyException(FailedStep.Offline, $"offline: {url} is not in the cache");
        }

        ProxyHeads.AddVia(endToEnd, exchange.Request.Version);
        var alternates = requestBody.Kind == BodyKind.None ? exchange.Alternates : [];
        for (var next = 0; ; next++)
        {
            var last = next == alternates.Count;
            try
            {
                var answer = await ExchangeWithAsync(exchange, url, method, endToEnd, requestBody);
                if (last || answer.Head.Status < 500)
                {
                    return answer;
                }

                answer.Connection.Dispose();
                Serilog.Log.Warning("Mirror {Url:l} answered {Status}: trying {Next:l}", url.ToString(), answer.Head.Status, alternates[next].ToString());
            }
            catch (ProxyException e) when (!last && e.Side == Side.Upstream)
            {
                Serilog.Log.Warning("Mirror {Url:l} failed ({Reason:l}): trying {Next:l}", url.ToString(), e.Message, alternates[next].ToString());
            }

            url = alternates[next];
        }
    }

    private async ValueTask<OriginResponse> ExchangeWithAsync(Exchange exchange, RequestUrl url, string method, HttpHeaders endToEnd, Framing requestBody)
    {
        var parent = options.External;
        var head = ProxyHeads.UpstreamRequest(method, url, endToEnd, requestBody, parent);
        ProxyHeads.LogHead("Replicator sends", $"{method} {url} to {(object?)parent ?? url.Authority}", endToEnd);
        var pool = PoolOf(exchange.Fiber);
        if (!options.Upstream.AllowsPort(url.Port))
        {
            throw new ProxyException(FailedStep.NotAllowed, UpstreamAccess.RefusedPort(url.Port));
        }

        var (host, port) = parent is null ? (url.Host, url.Port) : (parent.Host, parent.Port);
        var access = parent is null ? options.Upstream : null;
        if (url.Secure && parent is not null)
        {
            throw new ProxyException(FailedStep.UpstreamConnect, $"{url} is https, which cannot go through the parent proxy (--external) yet");
        }

        var tls = url.Secure ? _tls : null;
        for (var attempt = 0; ; attempt++)
        {
            UpstreamConnection? upstream = null;
            try
            {
                upstream = await pool.GetAsync(exchange.Fiber, host, port, exchange.Timeout, access, tls);
                var sent = clock.GetTimestamp();
                await upstream.Connection.SendAsync(exchange.Fiber, head, exchange.Timeout);
                if (requestBody.Kind != BodyKind.None)
                {
                    await ForwardRequestBodyAsync(exchange, upstream, requestBody);
                }

                var response = await ReadFinalHeadAsync(exchange, upstream, method);
                metrics?.OriginAnswered(clock.GetElapsedTime(sent));
                return new OriginResponse(upstream, response);
            }
            catch (Exception e)
            {
                var reusedAndFresh = upstream is { Reused: true } && upstream.Connection.BufferedCount == 0 && requestBody.Kind == BodyKind.None;
                upstream?.Dispose();
                if (reusedAndFresh && attempt == 0 && e is not (Fibers.FiberTimeoutException or ProxyException))
                {
                    continue; // the server closed an idle connection as we reused it
                }

                throw ProxyException.FromUpstream(e, url.Authority, exchange.Timeout);
            }
        }
    }

    /// <summary>Pools the connection when its response ended cleanly and the server keeps it, else closes it.</summary>
    public static void Release(UpstreamConnection upstream, ResponseHead response, Framing framing)
    {
        if (response.KeepAlive && framing.Kind != BodyKind.UntilClose)
        {
            upstream.Pool?.Return(upstream);
        }
        else
        {
            upstream.Dispose();
        }
    }

    private async ValueTask<ResponseHead> ReadFinalHeadAsync(Exchange exchange, UpstreamConnection upstream, string method)
    {
        // The whole head, 1xx answers included, within --upstream-head-timeout of the request: an origin trickling
        // its head would otherwise keep the client waiting with nothing for as long as it likes.
        var headTimeout = options.ResponseHeadTimeout;
        var sent = clock.GetTimestamp();
        while (true)
        {
            var (head, end) = await HeadReader.ReadAsync<ResponseHead>(upstream.Connection, exchange.Fiber, HeadParser.TryParseResponse, exchange.Timeout, headTimeout, sent);
            if (end == HeadEnd.TooSlow)
            {
                throw new ProxyException(FailedStep.UpstreamTimeout, $"upstream {exchange.Url!.Authority} did not send a whole response head within {headTimeout.TotalSeconds:0} s");
            }

            if (head is null)
            {
                throw new IOException("closed the connection without a response");
            }

            ProxyHeads.LogHead("Server responds", $"HTTP/{head.Version} {head.Status} {head.Reason}", head.Headers);
            if (head.Status >= 200)
            {
                return head;
            }

            if (head.Status == 101)
            {
                throw new ProxyException(FailedStep.UpstreamHead, "upstream switched protocols, which a caching proxy does not carry");
            }

            if (exchange.AnswersClient && exchange.Request.IsHttp11)
            {
                await exchange.Client.SendAsync(exchange.Fiber, HeadWriter.Response(head.Status, head.Reason, head.Headers.EndToEnd(), Framing.None, keepAlive: true), exchange.Timeout);
            }
        }
    }

    private static async ValueTask ForwardRequestBodyAsync(Exchange exchange, UpstreamConnection upstream, Framing framing)
    {
        var reader = new BodyReader(exchange.Client, framing);
        var chunked = framing.Kind == BodyKind.Chunked;
        try
        {
            while (await reader.ReadAsync(exchange.Fiber, exchange.Timeout, static (piece, state) => SendUpstreamAsync(state.Exchange, state.Upstream, piece, state.Chunked), (Exchange: exchange, Upstream: upstream, Chunked: chunked)))
            {
            }
        }
        catch (HttpParseException e)
        {
            // The client's own body is malformed: its fault (400), not the origin's.
            throw new ProxyException(FailedStep.ClientBody, $"malformed request body: {e.Message}", e.Fault);
        }

        if (chunked)
        {
            await upstream.Connection.SendAsync(exchange.Fiber, ChunkedEncoding.End, exchange.Timeout);
        }
    }

    private static async ValueTask SendUpstreamAsync(Exchange exchange, UpstreamConnection upstream, ReadOnlyMemory<byte> piece, bool chunked)
    {
        if (!chunked)
        {
            await upstream.Connection.SendAsync(exchange.Fiber, piece, exchange.Timeout);
            return;
        }

        var (buffer, length) = ChunkedEncoding.Frame(piece.Span);
        try
        {
            await upstream.Connection.SendAsync(exchange.Fiber, buffer.AsMemory(0, length), exchange.Timeout);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
