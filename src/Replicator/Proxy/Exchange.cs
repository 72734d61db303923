using Replicator.Fibers;
using Replicator.Http;
using Serilog;
using Serilog.Events;
using Serilog.Parsing;

namespace Replicator.Proxy;

/// <summary>
/// One request and its answer, as the client session sees it: what was asked, what was answered, and whether the
/// client connection can carry another request. Ends with one access-log line. A request of the process itself (the
/// mirror's) is one too, answered into an <see cref="InProcessResponse"/> instead of a connection.
/// </summary>
internal sealed class Exchange
{
    private static readonly MessageTemplate s_accessTemplate = new MessageTemplateParser().Parse("{" + AccessLine.PropertyName + "}");
    private static readonly LogEventProperty s_immediate = new(Fibers.Logging.FiberLogSink.ImmediateProperty, new ScalarValue(true));

    private readonly long _started;
    private readonly BufferedConnection? _client;
    private readonly InProcessResponse? _inProcess;

    public Exchange(ProxyServer server, Fiber fiber, BufferedConnection client, string clientName, RequestHead request)
        : this(server, fiber, client, null, clientName, request)
    {
    }

    /// <summary>A request of this process itself (the mirror's files): the answer goes to <paramref name="response"/>, not to a socket.</summary>
    public Exchange(ProxyServer server, Fiber fiber, string clientName, RequestHead request, InProcessResponse response)
        : this(server, fiber, null, response, clientName, request)
    {
    }

    private Exchange(ProxyServer server, Fiber fiber, BufferedConnection? client, InProcessResponse? inProcess, string clientName, RequestHead request)
    {
        Server = server;
        Fiber = fiber;
        _client = client;
        _inProcess = inProcess;
        ClientName = clientName;
        Request = request;
        _started = server.Clock.GetTimestamp();
        KeepAlive = request.KeepAlive;
    }

    public ProxyServer Server { get; }

    public Fiber Fiber { get; }

    /// <summary>The client's connection; an in-process exchange has none (nothing that needs one, CONNECT or a request body, reaches it).</summary>
    public BufferedConnection Client => _client ?? throw new InvalidOperationException("an in-process request has no client connection");

    public string ClientName { get; }

    public RequestHead Request { get; }

    /// <summary>Whether the client runs on this machine (it then copies every byte we send out of its socket itself).</summary>
    public bool ClientOnSameHost { get; init; }

    public RequestUrl? Url { get; set; }

    /// <summary>Where else the same file may be asked for when <see cref="Url"/> fails (the later URLs of a --mirror name).</summary>
    public IReadOnlyList<RequestUrl> Alternates { get; set; } = [];

    /// <summary>
    /// False for work done on a client's behalf after it has its answer (a background revalidation): nothing the
    /// origin says goes to the client then, not even an interim 1xx response.
    /// </summary>
    public bool AnswersClient { get; init; } = true;

    public TimeSpan Timeout => Server.Options.Timeout;

    /// <summary>
    /// An exchange for work on this one's behalf that answers nobody (a background revalidation): the same client, or
    /// for an in-process request an answer nobody reads, and <paramref name="request"/> for <paramref name="url"/>.
    /// </summary>
    public Exchange InBackground(Fiber fiber, RequestHead request, RequestUrl url) => _inProcess is null
        ? new Exchange(Server, fiber, Client, ClientName, request) { Url = url, AnswersClient = false }
        : new Exchange(Server, fiber, ClientName, request, new InProcessResponse()) { Url = url, AnswersClient = false };

    /// <summary>
    /// How long a client waits on a shared download's progress: twice --timeout, so that the download, whose every
    /// read from the origin has --timeout, fails first and says why, rather than its followers timing out blind.
    /// </summary>
    public TimeSpan DownloadPatience => Timeout * 2;

    /// <summary>Whether the client connection stays open after this exchange (see <see cref="Respond"/>, <see cref="CloseAfter"/>).</summary>
    public bool KeepAlive { get; private set; }

    /// <summary>Whether any byte of the response went out (after that, an error can only close the connection).</summary>
    public bool ResponseStarted { get; private set; }

    /// <summary>The status of the response (set by <see cref="Respond"/>).</summary>
    public int Status { get; private set; }

    public long BytesSent { get; private set; }

    /// <summary>What the access log says of the answer: what the handler returned, or what its failure means (set by the session).</summary>
    public string Outcome { get; set; } = Outcomes.Pass;

    /// <summary>The client's address (null for the proxy's own background exchanges).</summary>
    public System.Net.IPAddress? ClientAddress { get; init; }

    /// <summary>The cache path of the URL when the cache handled it (the usage ledger counts it), else null.</summary>
    public string? CachePath { get; set; }

    /// <summary>The file class of the URL (package, index, other), set by the cache handler; the access log names it.</summary>
    public Cache.FileClass FileClass { get; set; }

    /// <summary>Sends to the client; a client that went away or stopped reading is <see cref="ClientGoneException"/>.</summary>
    public async ValueTask SendAsync(ReadOnlyMemory<byte> data)
    {
        ResponseStarted = true;
        if (InProcessOrGone() is { } inProcess)
        {
            inProcess.Take(data.Span);
            BytesSent += data.Length;
            return;
        }

        try
        {
            await Client.SendAsync(Fiber, data, Timeout);
        }
        catch (Exception e) when (e is System.Net.Sockets.SocketException or FiberTimeoutException)
        {
            throw Gone(e);
        }

        BytesSent += data.Length;
    }

    /// <summary>
    /// Sends what the client's socket takes now of <paramref name="data"/> (see <see cref="FiberSocketExtensions.SendNow"/>):
    /// the count sent, 0 when it has no room; wait with <see cref="WaitWritableAsync"/>.
    /// </summary>
    public int SendNow(ReadOnlySpan<byte> data)
    {
        ResponseStarted = true;
        if (InProcessOrGone() is { } inProcess)
        {
            inProcess.Take(data);
            BytesSent += data.Length;
            return data.Length;
        }

        int sent;
        try
        {
            sent = FiberSocketExtensions.SendNow(Client.Socket, data);
        }
        catch (System.Net.Sockets.SocketException e)
        {
            throw Gone(e);
        }

        BytesSent += sent;
        return sent;
    }

    /// <summary>Waits until the client's socket has room; a client that stopped reading is <see cref="ClientGoneException"/>.</summary>
    public async ValueTask WaitWritableAsync()
    {
        if (_inProcess is not null)
        {
            return; // it takes everything at once
        }

        try
        {
            await Fiber.WritableAsync(Client.Socket, Timeout);
        }
        catch (FiberTimeoutException e)
        {
            throw Gone(e);
        }
    }

    /// <summary>Sends part of a file to the client (sendfile); failures of the client as <see cref="SendAsync"/>.</summary>
    public async ValueTask SendFileAsync(Microsoft.Win32.SafeHandles.SafeFileHandle file, long offset, long count)
    {
        ResponseStarted = true;
        if (InProcessOrGone() is { } inProcess)
        {
            inProcess.TakeFromFile(file, offset, count);
            BytesSent += count;
            return;
        }

        try
        {
            await Fiber.SendFileAsync(Client.Socket, file, offset, count, Timeout);
        }
        catch (Exception e) when (e is System.Net.Sockets.SocketException or FiberTimeoutException)
        {
            throw Gone(e);
        }

        BytesSent += count;
    }

    /// <summary>
    /// The in-process response, if this exchange has one (else null: send to the connection); one whose asker stopped
    /// waiting throws, as a client that went away.
    /// </summary>
    private InProcessResponse? InProcessOrGone() => _inProcess is { Abandoned.IsCancellationRequested: true }
        ? throw Gone(new OperationCanceledException("the request was abandoned"))
        : _inProcess;

    private static ClientGoneException Gone(Exception e) => new($"the client went away during the response: {e.Message}", e);

    /// <summary>
    /// The one place a response's status and the connection's fate are decided, as its head is about to go out:
    /// the connection stays open only if the request allowed it and the response can be delimited for it.
    /// </summary>
    public void Respond(int status, bool keepAlive = true)
    {
        Status = status;
        KeepAlive &= keepAlive;
    }

    /// <summary>The connection ends after this exchange (a tunnel, a failure after the response began, a client that left).</summary>
    public void CloseAfter() => KeepAlive = false;

    public async ValueTask SendErrorAsync(int status, string reason)
    {
        Respond(status);
        await SendAsync(ProxyHeads.Error(status, reason, KeepAlive));
    }

    public void CountSent(long bytes) => BytesSent += bytes;

    private void RecordUsage(string cachePath)
    {
        switch (Outcome)
        {
            case Outcomes.Hit or Outcomes.Offline or Outcomes.Stale or Outcomes.Revalidated:
                Server.Usage.Hit(cachePath, BytesSent);
                break;
            case Outcomes.Miss:
                Server.Usage.Miss(cachePath, BytesSent);
                break;
        }
    }

    public void WriteAccessLog()
    {
        var duration = Server.Clock.GetElapsedTime(_started);
        Server.Counters.Count(Request.Method, FileClass, Outcome, BytesSent);
        if (CachePath is { } cachePath)
        {
            RecordUsage(cachePath);
        }

        Server.OnAccess?.Invoke(new AccessRecord(ClientName, Request.Method, Url?.ToString() ?? Request.Target, Status, BytesSent, Outcome, duration, FileClass));
        if (!Log.IsEnabled(LogEventLevel.Information))
        {
            return;
        }

        // Built directly, from a template parsed once, with the whole line as one value (see AccessLine).
        var line = new AccessLine(ClientName, Request.Method, Url, Request.Target, Status, BytesSent, Outcome, FileClass, (long)duration.TotalMilliseconds);
        Log.Write(new LogEvent(Server.Clock.GetLocalNow(), LogEventLevel.Information, null, s_accessTemplate, [new LogEventProperty(AccessLine.PropertyName, line), s_immediate]));
    }
}

/// <summary>What the access log says of one request: who asked what, the answer, and how it was reached.</summary>
internal sealed record AccessRecord(string Client, string Method, string Url, int Status, long Bytes, string Outcome, TimeSpan Duration, Cache.FileClass FileClass = Cache.FileClass.Other);
