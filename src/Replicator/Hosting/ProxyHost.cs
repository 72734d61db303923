using System.Net.Sockets;
using System.Text;
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
        Log.Logger = new LoggerConfiguration()
            .MinimumLevel.Is(settings.Verbosity switch { 0 => LogEventLevel.Information, 1 => LogEventLevel.Debug, _ => LogEventLevel.Verbose })
            .WriteTo.Sink(new FiberLogSink(Console.Out, settings.Debug ? FiberLogMode.Debug : FiberLogMode.Gather))
            .CreateLogger();
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
        });
        // Before the first "listening" line: whoever reads it may signal at once.
        using var signals = engine.StopOnSignals(s_stopGrace);
        foreach (var endpoint in settings.Endpoints)
        {
            try
            {
                var bound = engine.Listen(endpoint, (fiber, client) => ServeAsync(fiber, client, settings));
                Log.Information("Replicator listening on {Endpoint:l}, cache in {Root:l}", bound.ToString(), settings.Root);
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

    // Until the proxy lands: read one request head and say so, so that the listener can be checked end to end.
    private static async ValueTask ServeAsync(Fiber fiber, Socket client, Settings settings)
    {
        var buffer = new byte[8192];
        var length = 0;
        while (length < buffer.Length)
        {
            var n = await fiber.ReceiveAsync(client, buffer.AsMemory(length), settings.Timeout, interruptOnStop: length == 0);
            if (n == 0)
            {
                return;
            }

            length += n;
            if (buffer.AsSpan(0, length).IndexOf("\r\n\r\n"u8) >= 0)
            {
                break;
            }
        }

        const string Reason = "the proxy is not built yet\n";
        var response = $"HTTP/1.1 501 Not Implemented\r\nContent-Type: text/plain\r\nContent-Length: {Reason.Length}\r\nConnection: close\r\n\r\n{Reason}";
        await fiber.SendAsync(client, Encoding.ASCII.GetBytes(response), settings.Timeout);
    }
}
