using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Serilog;

namespace Replicator.Fibers;

/// <summary>Handles one accepted connection; the engine disposes the socket when the handler returns.</summary>
public delegate ValueTask FiberConnectionHandler(Fiber fiber, Socket client);

/// <summary>
/// A set of loops, one thread each (default one per core), and the listeners that feed them: the original
/// <c>spawn</c>, which started one fiber per accepted connection, grown to several endpoints and several loops.
/// </summary>
public sealed class FiberEngine : IDisposable
{
    private const int SOL_SOCKET = 1;
    private const int SO_REUSEADDR = 2;
    private const int SO_REUSEPORT = 15;

    /// <summary>Dispose without a stop first: the loops get this long to end their fibers.</summary>
    private static readonly TimeSpan s_disposeWait = TimeSpan.FromSeconds(10);

    /// <summary>Accept failing for lack of descriptors or buffers is retried, backing off up to this.</summary>
    private static readonly TimeSpan s_maxAcceptBackoff = TimeSpan.FromSeconds(5);

    private readonly FiberLoop[] _loops;
    private readonly FiberEngineOptions _options;
    private readonly ILogger _logger;
    private int _nextLoop;
    private int _started;
    private int _disposed;

    public FiberEngine(FiberEngineOptions? options = null)
    {
        _options = options ?? new FiberEngineOptions();
        if (_options.LoopCount < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(options), _options.LoopCount, "the engine needs at least one loop");
        }

        _logger = (_options.Logger ?? Log.Logger).ForContext<FiberEngine>();
        _loops = new FiberLoop[_options.LoopCount];
        for (var i = 0; i < _loops.Length; i++)
        {
            _loops[i] = new FiberLoop(i, _options);
        }
    }

    public IReadOnlyList<FiberLoop> Loops => _loops;

    /// <summary>Completes when every loop has ended.</summary>
    public Task Completion => Task.WhenAll(_loops.Select(loop => loop.Completion));

    /// <summary>Starts every loop on its own thread.</summary>
    public void Start()
    {
        if (Interlocked.Exchange(ref _started, 1) == 0)
        {
            foreach (var loop in _loops)
            {
                loop.Start();
            }
        }
    }

    /// <summary>Starts a fiber on the next loop in turn.</summary>
    public Fiber Spawn(string name, Func<Fiber, ValueTask> body) => NextLoop().Spawn(name, body);

    /// <summary>
    /// Listens on <paramref name="endpoint"/> (port 0: the OS picks) and runs <paramref name="handler"/> in a new
    /// fiber for every accepted connection. Returns the bound endpoint.
    /// </summary>
    public IPEndPoint Listen(IPEndPoint endpoint, FiberConnectionHandler handler)
    {
        var reusePort = _options.Distribution == ListenerDistribution.ReusePort && _loops.Length > 1;
        if (reusePort)
        {
            // SO_REUSEPORT would let a second process of the same user join our port silently (and take half of its
            // connections) instead of failing: a bind without it first proves the port is free, and picks port 0.
            endpoint = ProbeFreePort(endpoint);
        }

        var first = OpenListener(endpoint, reusePort);
        var bound = (IPEndPoint)first.LocalEndPoint!;
        var listeners = new List<Socket> { first };
        try
        {
            // Port 0 is resolved by the first bind; the other loops bind the same port.
            for (var i = 1; reusePort && i < _loops.Length; i++)
            {
                listeners.Add(OpenListener(bound, reusePort: true));
            }
        }
        catch
        {
            listeners.ForEach(socket => socket.Dispose());
            throw;
        }

        // One delegate per listener serves every connection: the socket travels as what the fiber owns.
        Func<Fiber, ValueTask> serve = fiber => handler(fiber, (Socket)fiber.Owned!);
        for (var i = 0; i < listeners.Count; i++)
        {
            var listener = listeners[i];
            _loops[i].Spawn($"listener {bound}", fiber => AcceptLoopAsync(fiber, listener, serve), gatherLog: false);
        }

        return bound;
    }

    /// <summary>Begins a clean stop on every loop (see <see cref="FiberLoop.RequestStop"/>).</summary>
    public void RequestStop(TimeSpan grace)
    {
        foreach (var loop in _loops)
        {
            loop.RequestStop(grace);
        }
    }

    /// <summary>Stops every loop and waits until they have ended.</summary>
    public Task StopAsync(TimeSpan grace)
    {
        RequestStop(grace);
        return Completion;
    }

    /// <summary>SIGINT (Ctrl-C) and SIGTERM begin a clean stop instead of killing the process.</summary>
    public IDisposable StopOnSignals(TimeSpan grace)
    {
        void Handler(PosixSignalContext context)
        {
            context.Cancel = true;
            _logger.Information("{Signal} received: stopping", context.Signal);
            RequestStop(grace);
        }

        return new Registrations(
            PosixSignalRegistration.Create(PosixSignal.SIGINT, Handler),
            PosixSignalRegistration.Create(PosixSignal.SIGTERM, Handler));
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        if (_started == 1 && !Completion.IsCompleted)
        {
            RequestStop(TimeSpan.Zero);
            Completion.Wait(s_disposeWait);
        }

        foreach (var loop in _loops)
        {
            loop.Dispose();
        }
    }

    private FiberLoop NextLoop() => _loops[(int)((uint)Interlocked.Increment(ref _nextLoop) % (uint)_loops.Length)];

    private static IPEndPoint ProbeFreePort(IPEndPoint endpoint)
    {
        using var probe = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        if (endpoint.AddressFamily == AddressFamily.InterNetworkV6)
        {
            probe.DualMode = false;
        }

        probe.Bind(endpoint);
        return (IPEndPoint)probe.LocalEndPoint!;
    }

    private Socket OpenListener(IPEndPoint endpoint, bool reusePort)
    {
        var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            if (endpoint.AddressFamily == AddressFamily.InterNetworkV6)
            {
                // IPv4 and IPv6 are listened on separately, so an IPv6 socket must not claim the IPv4 port too.
                socket.DualMode = false;
            }

            // Raw SO_REUSEADDR (a restart binds past connections in TIME_WAIT): .NET's ReuseAddress sets SO_REUSEPORT as
            // well on Linux, which would let a second process join a port handed out in turn.
            socket.SetRawSocketOption(SOL_SOCKET, SO_REUSEADDR, BitConverter.GetBytes(1));
            if (reusePort)
            {
                socket.SetRawSocketOption(SOL_SOCKET, SO_REUSEPORT, BitConverter.GetBytes(1));
            }

            socket.Bind(endpoint);
            socket.Listen(_options.Backlog);
            socket.Blocking = false;
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private async ValueTask AcceptLoopAsync(Fiber fiber, Socket listener, Func<Fiber, ValueTask> serve)
    {
        using var _ = listener;
        var pressure = TimeSpan.FromMilliseconds(100);
        while (true)
        {
            try
            {
                await fiber.ReadableAsync(listener, Timeout.InfiniteTimeSpan, interruptOnStop: true);
            }
            catch (FiberStoppedException)
            {
                _logger.Debug("Listener {Endpoint:l} closed", listener.LocalEndPoint?.ToString());
                return;
            }

            // Readiness promises one pending connection; a level-triggered poller reports again if there are more,
            // so one accept per wake-up never meets an empty queue (and its exception).
            Socket client;
            try
            {
                client = FiberSocketExtensions.Accept(listener);
                pressure = TimeSpan.FromMilliseconds(100);
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.WouldBlock or SocketError.ConnectionAborted or SocketError.ConnectionReset)
            {
                // Transient: the client gave up before we took it, or another loop took it first.
                continue;
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.TooManyOpenSockets or SocketError.NoBufferSpaceAvailable)
            {
                // Resource pressure: back off instead of spinning on a queue we cannot drain.
                _logger.Warning("Accept on {Endpoint} failed ({Error}); retrying in {Delay} ms", listener.LocalEndPoint, e.SocketErrorCode, pressure.TotalMilliseconds);
                await fiber.SleepAsync(pressure);
                pressure = TimeSpan.FromTicks(Math.Min(pressure.Ticks * 2, s_maxAcceptBackoff.Ticks));
                continue;
            }

            client.NoDelay = true;
            var loop = _options.Distribution == ListenerDistribution.HandOff ? NextLoop() : fiber.Loop;
            loop.Spawn(client.RemoteEndPoint ?? (object)"client", serve, gatherLog: true, owned: client);
        }
    }

    private sealed class Registrations(params PosixSignalRegistration[] registrations) : IDisposable
    {
        public void Dispose()
        {
            foreach (var registration in registrations)
            {
                registration.Dispose();
            }
        }
    }
}
