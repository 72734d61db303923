using System.IO.Abstractions;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Replicator.Fibers;
using Replicator.Fibers.Logging;
using Replicator.Proxy;
using Serilog;
using Serilog.Events;

namespace Replicator.Hosting;

/// <summary>
/// Runs the program: logging (standard output, or --log FILE reopened on SIGHUP), the pid file, the cache root, the
/// engine and its listeners, and a clean stop on SIGINT/SIGTERM. Start-up failures (a port in use, an unwritable root
/// or log) are one line on stderr and exit code 1. SIGHUP never stops the process (the original 3.0 died on it).
/// </summary>
internal static class ProxyHost
{
    private static readonly TimeSpan s_stopGrace = TimeSpan.FromSeconds(10);

    /// <summary>The log is written in blocks (flushed four times a second), never a system call per line.</summary>
    private const int LogBufferSize = 64 * 1024;

    public static int Run(Settings settings)
    {
        TextWriter output;
        try
        {
            output = OpenLog(settings.Host.LogFile);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"replicator: cannot open the log {settings.Host.LogFile}: {e.Message}");
            return 1;
        }

        // Buffered and flushed four times a second: one write per access-log line would cost a system call per request.
        var sink = new FiberLogSink(output, settings.Host.Debug ? FiberLogMode.Debug : FiberLogMode.Gather, flushEachWrite: false);
        using var flusher = new Timer(_ => sink.Flush(), null, TimeSpan.FromMilliseconds(250), TimeSpan.FromMilliseconds(250));
        using var reopen = PosixSignalRegistration.Create(PosixSignal.SIGHUP, context =>
        {
            context.Cancel = true;
            ReopenLog(sink, settings.Host.LogFile);
        });
        Log.Logger = new LoggerConfiguration()
            .MinimumLevel.Is(settings.Host.Verbosity switch { 0 => LogEventLevel.Information, 1 => LogEventLevel.Debug, _ => LogEventLevel.Verbose })
            .WriteTo.Sink(sink)
            .CreateLogger();
        try
        {
            return Serve(settings, sink);
        }
        finally
        {
            sink.Flush();
            if (settings.Host.PidFile is { } pidFile)
            {
                File.Delete(pidFile);
            }
        }
    }

    private static int Serve(Settings settings, FiberLogSink sink)
    {
        try
        {
            Directory.CreateDirectory(settings.Cache.Root);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return StartupFailure($"cannot create the cache root {settings.Cache.Root}: {e.Message}");
        }

        try
        {
            if (settings.Host.PidFile is { } pidFile)
            {
                File.WriteAllText(pidFile, Environment.ProcessId + "\n");
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return StartupFailure($"cannot write the pid file {settings.Host.PidFile}: {e.Message}");
        }

        using var engine = new FiberEngine(new FiberEngineOptions
        {
            LoopCount = settings.Host.Threads,
            Poller = settings.Host.Poller,
            Distribution = settings.Host.Distribution,
        });
        using var proxy = new ProxyServer(settings.Proxy, settings.Cache, new FileSystem());
        // Before the first "listening" line: whoever reads it may signal at once.
        using var signals = engine.StopOnSignals(s_stopGrace);
        foreach (var endpoint in settings.Host.Endpoints)
        {
            try
            {
                var bound = proxy.Listen(engine, endpoint);
                Log.Information("Replicator listening on {Endpoint:l}, cache in {Root:l}", bound.ToString(), settings.Cache.Root);
                if (settings.Host.LogFile is not null)
                {
                    // With a log file, the operator still sees where it listens.
                    Console.WriteLine($"Replicator listening on {bound}, cache in {settings.Cache.Root}, log in {settings.Host.LogFile}");
                }

                sink.Flush();
            }
            catch (SocketException e)
            {
                return StartupFailure($"cannot listen on {endpoint}: {e.Message}");
            }
        }

        engine.Start();
        engine.Completion.Wait();
        proxy.Dispose(); // the usage recorded last is written before the process ends
        Log.Information("Replicator stopped");
        Log.CloseAndFlush();
        return 0;
    }

    private static StreamWriter OpenLog(string? path) =>
        path is null
            ? new StreamWriter(Console.OpenStandardOutput(), bufferSize: LogBufferSize) { AutoFlush = false }
            : new StreamWriter(new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete), bufferSize: LogBufferSize) { AutoFlush = false };

    /// <summary>SIGHUP: a log file renamed by logrotate is closed and the configured name opened anew.</summary>
    private static void ReopenLog(FiberLogSink sink, string? path)
    {
        if (path is null)
        {
            return;
        }

        try
        {
            sink.ReplaceOutput(() => OpenLog(path));
            Log.Information("SIGHUP: log {Path:l} reopened", path);
            sink.Flush();
            Console.WriteLine($"log {path} reopened");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Log.Error("SIGHUP: cannot reopen the log {Path:l}: {Reason:l}", path, e.Message);
        }
    }

    private static int StartupFailure(string message)
    {
        Console.Error.WriteLine($"replicator: {message}");
        Log.CloseAndFlush();
        return 1;
    }
}
