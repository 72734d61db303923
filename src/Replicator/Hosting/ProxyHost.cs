using System.IO.Abstractions;
using System.Net.Sockets;
using Replicator.Proxy;
using Replicator.Fibers;
using Replicator.Fibers.Logging;
using Serilog;
using Serilog.Events;

namespace Replicator.Hosting;

/// <summary>
/// Runs the program: logging, the cache root, the engine and its listeners, and a clean stop on SIGINT/SIGTERM.
/// Start-up failures (a port in use, an unwritable root) are one line on stderr and exit code 1.
/// </summary>
internal static class ProxyHost
{
    private static readonly TimeSpan s_stopGrace = TimeSpan.FromSeconds(10);

    public static int Run(Settings settings)
    {
        // Standard output is buffered and flushed four times a second: one write per access-log line would cost a
        // system call per request.
        var output = new StreamWriter(Console.OpenStandardOutput(), bufferSize: 64 * 1024) { AutoFlush = false };
        var sink = new FiberLogSink(output, settings.Debug ? FiberLogMode.Debug : FiberLogMode.Gather, flushEachWrite: false);
        using var flusher = new Timer(_ => sink.Flush(), null, TimeSpan.FromMilliseconds(250), TimeSpan.FromMilliseconds(250));
        Log.Logger = new LoggerConfiguration()
            .MinimumLevel.Is(settings.Verbosity switch { 0 => LogEventLevel.Information, 1 => LogEventLevel.Debug, _ => LogEventLevel.Verbose })
            .WriteTo.Sink(sink)
            .CreateLogger();
        try
        {
            return Serve(settings, sink);
        }
        finally
        {
            sink.Flush();
        }
    }

    private static int Serve(Settings settings, FiberLogSink sink)
    {
        try
        {
            Directory.CreateDirectory(settings.Root);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return StartupFailure($"cannot create the cache root {settings.Root}: {e.Message}");
        }

        using var engine = new FiberEngine(new FiberEngineOptions
        {
            LoopCount = settings.Threads,
            Poller = FiberEngineOptions.PollerFromEnvironment(),
            Distribution = FiberEngineOptions.DistributionFromEnvironment(ListenerDistribution.ReusePort),
        });
        var proxy = new ProxyServer(settings, new FileSystem());
        // Before the first "listening" line: whoever reads it may signal at once.
        using var signals = engine.StopOnSignals(s_stopGrace);
        foreach (var endpoint in settings.Endpoints)
        {
            try
            {
                var bound = engine.Listen(endpoint, (fiber, client) => proxy.Serve(fiber, client));
                Log.Information("Replicator listening on {Endpoint:l}, cache in {Root:l}", bound.ToString(), settings.Root);
                sink.Flush();
            }
            catch (SocketException e)
            {
                return StartupFailure($"cannot listen on {endpoint}: {e.Message}");
            }
        }

        engine.Start();
        engine.Completion.Wait();
        Log.Information("Replicator stopped");
        Log.CloseAndFlush();
        return 0;
    }

    private static int StartupFailure(string message)
    {
        Console.Error.WriteLine($"replicator: {message}");
        Log.CloseAndFlush();
        return 1;
    }
}
