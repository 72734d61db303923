using System.Net.Sockets;
using Replicator.Fibers;
using Replicator.Http;
using Serilog;

namespace Replicator.Proxy;

/// <summary>
/// One client connection: requests are read and answered one after another, in order, so pipelined requests (apt
/// sends up to ten) are answered in the order they came. Between requests the connection holds no buffer, and an
/// engine stop ends it at once.
///
/// Per request: (1) parse the head (need more bytes, or 400/414/431 and close); (2) dispatch by form and method:
/// CONNECT tunnels, origin-form gets the proxy's own page, GET and HEAD go through the cache, the rest is passed
/// through; (3) an error before the response started is answered with its status and one line, after it the
/// connection is closed; (4) one access-log line.
/// </summary>
internal sealed class ClientSession : IDisposable
{
    /// <summary>
    /// Send buffer for a client on this host: small enough that what we copy in (a mapped body) is still in the CPU
    /// cache when the client copies it out; a loopback connection has no delay to cover (docs/benchmarks.md).
    /// </summary>
    private const int SameHostSendBuffer = 128 * 1024;

    private readonly ProxyServer _server;
    private readonly Fiber _fiber;
    private readonly BufferedConnection _client;
    private readonly string _clientName;
    private readonly bool _onSameHost;
    private readonly System.Net.IPAddress _address;

    /// <param name="address">The client's address, admitted by <see cref="ClientAdmission.Admit"/>; the session lets go of it at its end.</param>
    public ClientSession(ProxyServer server, Fiber fiber, Socket client, System.Net.IPAddress address)
    {
        _server = server;
        _address = address;
        _fiber = fiber;
        _client = new BufferedConnection(client);
        _clientName = client.RemoteEndPoint?.ToString() ?? "client";
        var clientAddress = (client.RemoteEndPoint as System.Net.IPEndPoint)?.Address;
        // Both ends have the same address only when the client runs on this machine (loopback, or our own address).
        _onSameHost = clientAddress is not null && clientAddress.Equals((client.LocalEndPoint as System.Net.IPEndPoint)?.Address);
        if (_onSameHost)
        {
            client.SendBufferSize = SameHostSendBuffer;
        }
    }

    public async ValueTask RunAsync()
    {
        try
        {
            // Between requests the connection waits here, in this frame alone: no buffer, no frame of the head reader,
            // and nothing of the last request (it lived in ServeAsync's frame). An idle connection holds little more
            // than its socket, this session and its fiber (issue 13).
            while (true)
            {
                var readable = false;
                if (_client.BufferedCount == 0)
                {
                    try
                    {
                        await _fiber.ReadableAsync(_client.Socket, _server.Options.Timeout, interruptOnStop: true);
                        readable = true;
                    }
                    catch (FiberTimeoutException)
                    {
                        return; // idle between requests for --timeout: closed without a word
                    }
                }

                if (await ReadRequestAsync(readable) is not { } request || !await ServeAsync(request))
                {
                    return;
                }
            }
        }
        catch (Exception e) when (EndsConnection(e))
        {
            Log.Debug("Client {Client:l} connection ended: {Reason:l}", _clientName, e.Message);
        }
        finally
        {
            Dispose();
        }
    }

    /// <summary>
    /// A failure that ends the client's connection rather than being answered (the socket, a timeout, the engine
    /// stopping); a request of the process itself ends with it too (see <see cref="ProxyServer.AnswerInProcessAsync"/>).
    /// </summary>
    internal static bool EndsConnection(Exception e) => e is SocketException or FiberTimeoutException or FiberStoppedException or IOException;

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _client.Dispose();
            _server.Admission.Leave(_address);
        }
    }

    private int _disposed;

    /// <summary>Answers one request and writes its access line; false when the connection ends after it.</summary>
    private async ValueTask<bool> ServeAsync(RequestHead request)
    {
        var exchange = new Exchange(_server, _fiber, _client, _clientName, request) { ClientOnSameHost = _onSameHost, ClientAddress = _address };
        await HandleAsync(exchange);
        exchange.WriteAccessLog();
        return exchange.KeepAlive;
    }

    /// <summary>
    /// The next request head, or null when the client is done (end of stream, idle timeout, or a malformed head,
    /// answered). Between requests a connection may idle for --timeout; once a head has begun, the whole head must
    /// arrive within --head-timeout (a client sending one line every few seconds is cut off with 408, as Kestrel does).
    /// </summary>
    private async ValueTask<RequestHead?> ReadRequestAsync(bool readable)
    {
        var options = _server.Options;
        try
        {
            var (head, end) = await HeadReader.ReadAsync<RequestHead>(_client, _fiber, HeadParser.TryParseRequest, options.Timeout, options.RequestHeadTimeout, started: null, idle: true, readable: readable);
            if (end == HeadEnd.TooSlow)
            {
                return await RefuseSlowHeadAsync($"the request head did not arrive within {options.RequestHeadTimeout.TotalSeconds:0} s");
            }

            if (head is not null)
            {
                ProxyHeads.LogHead("Client sends", $"{head.Method} {head.Target} HTTP/{head.Version}", head.Headers);
            }

            return head;
        }
        catch (FiberTimeoutException) when (_client.BufferedCount > 0)
        {
            return await RefuseSlowHeadAsync($"the request head stalled for {options.Timeout.TotalSeconds:0} s");
        }
        catch (FiberTimeoutException)
        {
            return null; // idle between requests for --timeout: closed without a word
        }
        catch (HttpParseException e)
        {
            Log.Information("{Client:l} sent a malformed request: {Reason:l}", _clientName, e.Message);
            await _client.SendAsync(_fiber, ProxyHeads.Error(ProxyException.FromClient(e).Status, e.Message, keepAlive: false), options.Timeout);
            return null;
        }
    }

    private async ValueTask<RequestHead?> RefuseSlowHeadAsync(string reason)
    {
        Log.Information("{Client:l}: {Reason:l}", _clientName, reason);
        await _client.SendAsync(_fiber, ProxyHeads.Error(Blame.Of(FailedStep.ClientTimeout).Status, reason, keepAlive: false), _server.Options.Timeout);
        return null;
    }

    /// <summary>Answers one request: the dispatch every request goes through, a client's or the process's own (<see cref="ProxyServer.AnswerInProcessAsync"/>).</summary>
    internal static async ValueTask HandleAsync(Exchange exchange)
    {
        try
        {
            var request = exchange.Request;
            if (request.Method == "CONNECT")
            {
                exchange.Outcome = await Tunnel.RunAsync(exchange);
                return;
            }

            if (request.Target == MetricsPage.Path)
            {
                // Prometheus' default path: before any mirror URL (a host named "metrics" is reached as /metrics/...).
                exchange.Outcome = await MetricsPage.SendAsync(exchange);
                return;
            }

            if (request.Target.StartsWith('/') || request.Target == "*")
            {
                // Origin form: a mirror URL (/HOST/PATH, /NAME/PATH), or the proxy's own page.
                if (exchange.Server.Options.Mirrors.Resolve(request.Target) is not { Count: > 0 } urls)
                {
                    exchange.Outcome = await Console.ConsolePages.SendAsync(exchange);
                    return;
                }

                exchange.Url = urls[0];
                exchange.Alternates = [.. urls.Skip(1)];
            }
            else
            {
                exchange.Url = RequestUrl.ParseAbsoluteRemembered(request.Target);
            }

            if (request.Method == Purge.Method)
            {
                exchange.Outcome = await Purge.RunAsync(exchange);
            }
            else if ((request.Method is "GET" or "HEAD") && request.BodyFraming().Kind == BodyKind.None)
            {
                exchange.Outcome = await CacheHandler.HandleAsync(exchange);
            }
            else
            {
                exchange.Outcome = await Forwarder.PassThroughAsync(exchange);
            }
        }
        catch (HttpParseException e)
        {
            await FailAsync(exchange, ProxyException.FromClient(e));
        }
        catch (ProxyException e)
        {
            await FailAsync(exchange, e);
        }
        catch (ClientGoneException e)
        {
            Log.Information("{Client:l} hung up during {Url:l}: {Reason:l}", exchange.ClientName, exchange.Url?.ToString() ?? exchange.Request.Target, e.InnerException?.Message ?? e.Message);
            exchange.Outcome = Outcomes.Aborted;
            exchange.CloseAfter();
        }
    }

    private static async ValueTask FailAsync(Exchange exchange, ProxyException error)
    {
        exchange.Outcome = error.Outcome;
        Log.Information("{Url:l}: {Status} {Reason:l}", exchange.Url?.ToString() ?? exchange.Request.Target, error.Status, error.Message);
        if (exchange.ResponseStarted)
        {
            // Part of a response went out: the only honest end is to close, so the client sees it incomplete.
            exchange.CloseAfter();
            return;
        }

        // A malformed request ends the connection; after a failure that is not the client's, the client may go on,
        // unless a request body we did not read would be taken for the next request.
        if (error.Side == Side.Client || exchange.Request.BodyFramingOrNone().Kind != BodyKind.None)
        {
            exchange.CloseAfter();
        }

        await exchange.SendErrorAsync(error.Status, error.Message);
    }
}
