using System.Buffers;
using System.Globalization;
using System.Text;
using Replicator.Http;

namespace Replicator.Proxy;

/// <summary>
/// Passing a response through to the client, with its body re-framed for the client (Content-Length kept;
/// otherwise chunked for an HTTP/1.1 client and close-delimited for 1.0, so keep-alive survives wherever the client
/// can have it). Asking the origin is <see cref="OriginClient"/>'s.
/// </summary>
internal static class Forwarder
{
    /// <summary>Forwards the request as it is and passes the response through; nothing is cached (PASS).</summary>
    public static async ValueTask<string> PassThroughAsync(Exchange exchange)
    {
        var headers = exchange.Request.Headers.EndToEnd();
        var answer = await exchange.Server.Origin.ExchangeAsync(exchange, exchange.Request.Method, headers, exchange.Request.BodyFraming());
        await Invalidation.AfterAsync(exchange, answer.Head);
        await RelayResponseAsync(exchange, answer);
        return Outcomes.Pass;
    }

    /// <summary>
    /// Sends a response head and its body from the origin to the client; the upstream connection goes back to the
    /// pool when it can. With <paramref name="reader"/>, the body was begun already: <paramref name="alreadyRead"/>
    /// goes out first, then the rest from that reader.
    /// </summary>
    public static async ValueTask RelayResponseAsync(Exchange exchange, OriginResponse answer, BodyReader? reader = null, ReadOnlyMemory<byte> alreadyRead = default)
    {
        var (upstream, response) = answer;
        var framing = response.BodyFraming(exchange.Request.Method);
        var clientFraming = ClientFraming(exchange, framing);
        var headers = response.Headers.EndToEnd();
        if (exchange.Request.Method == "HEAD" && response.Headers["Content-Length"] is { } length)
        {
            // No body follows a HEAD's answer, but its Content-Length is the GET's (RFC 9110 section 9.3.2).
            headers.Add("Content-Length", length);
        }

        ProxyHeads.AddVia(headers, response.Version);
        exchange.Respond(response.Status);
        await exchange.SendAsync(HeadWriter.Response(response.Status, response.Reason, headers, clientFraming, exchange.KeepAlive));
        reader ??= new BodyReader(upstream.Connection, framing);
        var pacer = exchange.Server.Origin.PacerFor(exchange.Fiber);
        try
        {
            if (!alreadyRead.IsEmpty)
            {
                await SendBodyAsync(exchange, alreadyRead, clientFraming.Kind == BodyKind.Chunked);
            }

            while (await reader.ReadAsync(exchange.Fiber, exchange.Timeout, static (piece, state) =>
            {
                state.Exchange.Server.Counters.CountUpstream(piece.Length);
                return SendBodyAsync(state.Exchange, piece, state.Chunked);
            }, (Exchange: exchange, Chunked: clientFraming.Kind == BodyKind.Chunked)))
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
                OriginClient.Release(upstream, response, framing);
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

        OriginClient.Release(upstream, response, framing);
    }

    /// <summary>How a body of <paramref name="framing"/> is delimited towards this client; may turn keep-alive off.</summary>
    public static Framing ClientFraming(Exchange exchange, Framing framing)
    {
        var forClient = framing.ForClient(exchange.Request.IsHttp11);
        if (forClient.Kind == BodyKind.UntilClose)
        {
            exchange.CloseAfter();
        }

        return forClient;
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

}
