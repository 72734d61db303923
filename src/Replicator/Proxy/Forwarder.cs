using System.Buffers;
using System.Globalization;
using System.Text;
using Replicator.Http;

namespace Replicator.Proxy;

/// <summary>
/// Talking to the origin: send a request (with its body, framed anew), read the response head, and pass a response
/// through to the client with its body re-framed for the client (Content-Length kept; otherwise chunked for an
/// HTTP/1.1 client and close-delimited for 1.0, so keep-alive survives wherever the client can have it).
/// </summary>
internal static class Forwarder
{
    /// <summary>Forwards the request as it is and passes the response through; nothing is cached.</summary>
    public static async ValueTask PassThroughAsync(Exchange exchange)
    {
        var headers = exchange.Request.Headers.EndToEnd();
        var (upstream, response) = await ExchangeAsync(exchange, exchange.Request.Method, headers, exchange.Request.BodyFraming());
        exchange.Outcome = Outcomes.Pass;
        await RelayResponseAsync(exchange, upstream, response);
    }

    /// <summary>
    /// Sends a request to the origin and reads the final response head (1xx answers are relayed to an HTTP/1.1
    /// client). A pooled connection that fails before any response byte is replaced once by a new one, unless the
    /// request had a body already sent.
    /// </summary>
    public static async ValueTask<(UpstreamConnection Upstream, ResponseHead Response)> ExchangeAsync(Exchange exchange, string method, HttpHeaders endToEnd, Framing requestBody)
    {
        var url = exchange.Url!;
        if (exchange.Server.CacheOptions.Offline)
        {
            throw new ProxyException(FailedStep.Offline, $"offline: {url} is not in the cache");
        }

        ProxyHeads.AddVia(endToEnd, exchange.Request.Version);
        var parent = exchange.Server.Options.External;
        var head = ProxyHeads.UpstreamRequest(method, url, endToEnd, requestBody, parent);
        ProxyHeads.LogHead("Replicator sends", $"{method} {url} to {(object?)parent ?? url.Authority}", endToEnd);
        var pool = UpstreamPool.Current;
        if (!exchange.Server.Options.Upstream.AllowsPort(url.Port))
        {
            throw new ProxyException(FailedStep.NotAllowed, UpstreamAccess.RefusedPort(url.Port));
        }

        var (host, port) = parent is null ? (url.Host, url.Port) : (parent.Host, parent.Port);
        var access = parent is null ? exchange.Server.Options.Upstream : null;
        for (var attempt = 0; ; attempt++)
        {
            UpstreamConnection? upstream = null;
            try
            {
                upstream = await pool.GetAsync(exchange.Fiber, host, port, exchange.Timeout, access);
                await upstream.Connection.SendAsync(exchange.Fiber, head, exchange.Timeout);
                if (requestBody.Kind != BodyKind.None)
                {
                    await ForwardRequestBodyAsync(exchange, upstream, requestBody);
                }

                return (upstream, await ReadFinalHeadAsync(exchange, upstream, method));
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

    /// <summary>Sends a response head and its body from the origin to the client; the upstream connection goes back to the pool when it can.</summary>
    public static async ValueTask RelayResponseAsync(Exchange exchange, UpstreamConnection upstream, ResponseHead response)
    {
        var framing = response.BodyFraming(exchange.Request.Method);
        var clientFraming = ClientFraming(exchange, framing);
        var headers = response.Headers.EndToEnd();
        ProxyHeads.AddVia(headers, response.Version);
        exchange.Status = response.Status;
        await exchange.SendAsync(ProxyHeads.ClientResponse(response.Status, response.Reason, headers, clientFraming, exchange.KeepAlive));
        var reader = new BodyReader(upstream.Connection, framing);
        var pacer = Pacer.For(exchange.Server.Options.Limit, exchange.Fiber);
        try
        {
            while (await reader.ReadAsync(exchange.Fiber, exchange.Timeout, static (piece, state) => SendToClientAsync(state.Exchange, piece, state.Chunked), (Exchange: exchange, Chunked: clientFraming.Kind == BodyKind.Chunked)))
            {
                if (pacer is not null)
                {
                    await pacer.PaceAsync(exchange.Fiber, reader.Read);
                }
            }
        }
        catch (ClientGoneException)
        {
            // The client's doing: the upstream connection is sound only if its body was read to the end.
            if (reader.IsDone)
            {
                Release(upstream, response, framing);
            }
            else
            {
                upstream.Dispose();
            }

            throw;
        }
        catch (Exception e) when (e is IOException or HttpParseException or Fibers.FiberTimeoutException or System.Net.Sockets.SocketException)
        {
            upstream.Dispose();
            throw new ProxyException(FailedStep.UpstreamBody, $"upstream {exchange.Url!.Authority} broke off the body: {e.Message}");
        }

        if (clientFraming.Kind == BodyKind.Chunked)
        {
            await exchange.SendAsync(ChunkedEncoding.End);
        }

        Release(upstream, response, framing);
    }

    /// <summary>Pools the connection when its response ended cleanly and the server keeps it, else closes it.</summary>
    public static void Release(UpstreamConnection upstream, ResponseHead response, Framing framing)
    {
        if (response.KeepAlive && framing.Kind != BodyKind.UntilClose)
        {
            UpstreamPool.Current.Return(upstream);
        }
        else
        {
            upstream.Dispose();
        }
    }

    /// <summary>How a body of <paramref name="framing"/> is delimited towards this client; may turn keep-alive off.</summary>
    public static Framing ClientFraming(Exchange exchange, Framing framing)
    {
        var forClient = framing.ForClient(exchange.Request.IsHttp11);
        exchange.KeepAlive &= forClient.Kind != BodyKind.UntilClose;
        return forClient;
    }

    /// <summary>Sends a piece of body to the client; a failure to is the client's (<see cref="ClientGoneException"/>).</summary>
    private static async ValueTask SendToClientAsync(Exchange exchange, ReadOnlyMemory<byte> piece, bool chunked)
    {
        try
        {
            await SendBodyAsync(exchange, piece, chunked);
        }
        catch (Exception e) when (e is System.Net.Sockets.SocketException or Fibers.FiberTimeoutException or IOException)
        {
            throw new ClientGoneException($"the client went away during the body: {e.Message}", e);
        }
    }

    /// <summary>Sends a piece of body, as one chunk when the client's framing is chunked.</summary>
    public static async ValueTask SendBodyAsync(Exchange exchange, ReadOnlyMemory<byte> piece, bool chunked)
    {
        if (!chunked)
        {
            await exchange.SendAsync(piece);
            return;
        }

        var (buffer, length) = ChunkedEncoding.Frame(piece.Span);
        try
        {
            await exchange.SendAsync(buffer.AsMemory(0, length));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static async ValueTask<ResponseHead> ReadFinalHeadAsync(Exchange exchange, UpstreamConnection upstream, string method)
    {
        var connection = upstream.Connection;
        // The whole head, 1xx answers included, within --upstream-head-timeout of the request: an origin trickling
        // its head would otherwise keep the client waiting with nothing for as long as it likes.
        var clock = exchange.Server.Clock;
        var headTimeout = exchange.Server.Options.ResponseHeadTimeout;
        var sent = clock.GetTimestamp();
        while (true)
        {
            ResponseHead? head;
            int consumed;
            while (!HeadParser.TryParseResponse(connection.Buffered, out head, out consumed))
            {
                var left = headTimeout - clock.GetElapsedTime(sent);
                bool received;
                try
                {
                    received = left > TimeSpan.Zero && await connection.ReceiveAsync(exchange.Fiber, left < exchange.Timeout ? left : exchange.Timeout);
                }
                catch (Fibers.FiberTimeoutException) when (clock.GetElapsedTime(sent) >= headTimeout)
                {
                    received = false;
                }

                if (!received && clock.GetElapsedTime(sent) >= headTimeout)
                {
                    throw new ProxyException(FailedStep.UpstreamTimeout, $"upstream {exchange.Url!.Authority} did not send a whole response head within {headTimeout.TotalSeconds:0} s");
                }

                if (!received)
                {
                    throw new IOException("closed the connection without a response");
                }
            }

            connection.Consume(consumed);
            ProxyHeads.LogHead("Server responds", $"HTTP/{head.Version} {head.Status} {head.Reason}", head.Headers);
            if (head.Status >= 200)
            {
                return head;
            }

            if (head.Status == 101)
            {
                throw new ProxyException(FailedStep.UpstreamHead, "upstream switched protocols, which a caching proxy does not carry");
            }

            if (exchange.Request.IsHttp11)
            {
                await exchange.Client.SendAsync(exchange.Fiber, ProxyHeads.ClientResponse(head.Status, head.Reason, head.Headers.EndToEnd(), Framing.None, keepAlive: true), exchange.Timeout);
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
