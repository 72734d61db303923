using Microsoft.Extensions.Time.Testing;
using Replicator.Fibers.Logging;
using Serilog;
using Serilog.Events;

namespace Replicator.Fibers.Tests;

public class LoggingTests
{
    [Fact]
    public async Task GatherMode_FiberLines_AreWrittenAsOneBlockWithSecondsSinceStart()
    {
        var clock = new FakeTimeProvider();
        using var log = new CapturingLog(FiberLogMode.Gather);
        using var engine = StartEngine(clock, log.Logger);
        var reachedSleep = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var fiber = engine.Spawn("client 1", async fiber =>
        {
            log.Logger.Information("first");
            reachedSleep.SetResult();
            await fiber.SleepAsync(TimeSpan.FromSeconds(1.5));
            log.Logger.Warning("second");
        });
        await reachedSleep.Task.Within();
        await engine.Loops[0].InvokeAsync(() => 0).Within();
        Assert.Empty(log.Lines);

        clock.Advance(TimeSpan.FromSeconds(1.5));
        await engine.StopAsync(TimeSpan.Zero).Within();

        var block = Assert.Single(log.Lines);
        var lines = block.TrimEnd().Split(Environment.NewLine);
        Assert.StartsWith($"[ {fiber.Id:X4} ] ", lines[0], StringComparison.Ordinal);
        Assert.EndsWith(" client 1", lines[0], StringComparison.Ordinal);
        Assert.Equal(["  0.000 first", "  1.500 WARNING second"], lines[1..]);
    }

    [Fact]
    public async Task DebugMode_FiberLines_GoOutAtOncePrefixedWithTheFiberId()
    {
        using var log = new CapturingLog(FiberLogMode.Debug);
        using var engine = StartEngine(TimeProvider.System, log.Logger);
        var logged = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new FiberSignal();
        var fiber = engine.Spawn("client 2", async fiber =>
        {
            log.Logger.Information("hello {Name}", "world");
            logged.SetResult();
            await fiber.WaitAsync(release, TimeSpan.FromMinutes(1));
        });

        await logged.Task.Within();
        Assert.Equal([$" {fiber.Id:X4} hello \"world\""], log.Lines);
        release.Raise();
    }

    [Fact]
    public void LinesOutsideFibers_AreWrittenAtOnceWithTheTimeOfDay()
    {
        using var log = new CapturingLog(FiberLogMode.Gather);

        log.Logger.Information("listening");

        var line = Assert.Single(log.Lines);
        Assert.Matches(@"^\[ \d\d:\d\d:\d\d\.\d\d\d \] listening$", line);
    }

    [Fact]
    public async Task WithoutAFlushPerWrite_LinesWaitInTheirThreadsBuffer_AndAFlushWritesEveryOneWhole()
    {
        using var output = new StringWriter();
        var sink = new FiberLogSink(output, FiberLogMode.Gather, flushEachWrite: false);
        var logger = new LoggerConfiguration().MinimumLevel.Verbose().WriteTo.Sink(sink).CreateLogger();

        logger.Information("one line {Thread}", -1);
        Assert.Equal(string.Empty, output.ToString()); // gathered, not yet written

        // Four threads, enough lines for each buffer to spill to the output on its own several times.
        await Task.WhenAll(Enumerable.Range(0, 4).Select(thread => Task.Factory.StartNew(() =>
        {
            for (var i = 0; i < 2000; i++)
            {
                logger.Information("thread {Thread} line {Line} {Padding}", thread, i, new string('x', 40));
            }
        }, TaskCreationOptions.LongRunning)));
        sink.Flush();

        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(8001, lines.Length);
        Assert.All(lines, line => Assert.Matches(@"^\[ \d\d:\d\d:\d\d\.\d\d\d \] (one line -1|thread \d line \d+ ""x{40}"")$", line));
        for (var thread = 0; thread < 4; thread++)
        {
            // Each thread's lines in its own order.
            var mine = lines.Where(line => line.Contains($"thread {thread} ", StringComparison.Ordinal)).Select(line => int.Parse(line.Split(' ')[6], System.Globalization.CultureInfo.InvariantCulture));
            Assert.Equal(Enumerable.Range(0, 2000), mine);
        }
    }

    [Fact]
    public void WithoutAFlushPerWrite_TheLinesOfAThreadThatEnded_AreStillWritten()
    {
        // A loop stopped before the program's last flush (at shutdown) must not take its last lines with it.
        using var output = new StringWriter();
        var sink = new FiberLogSink(output, FiberLogMode.Gather, flushEachWrite: false);
        var logger = new LoggerConfiguration().WriteTo.Sink(sink).CreateLogger();
        var thread = new Thread(() => logger.Information("the last line of a loop"));
        thread.Start();
        thread.Join();
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();

        sink.Flush();

        Assert.Contains("the last line of a loop", output.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void ALineThatFailsToRender_LeavesNothingOfItselfInTheBuffer()
    {
        // Lines are rendered straight into the thread's buffer: one that throws half-way must not leave its half
        // there, glued to the next line (Serilog swallows a sink's exception, so the next line would follow).
        using var output = new StringWriter();
        var sink = new FiberLogSink(output, FiberLogMode.Gather, flushEachWrite: false);
        var logger = new LoggerConfiguration().WriteTo.Sink(sink).CreateLogger();
        var template = new Serilog.Parsing.MessageTemplateParser().Parse("{Value}");

        logger.Write(new LogEvent(DateTimeOffset.Now, LogEventLevel.Information, null, template, [new LogEventProperty("Value", new FailingValue())]));
        logger.Information("the next line");
        sink.Flush();

        Assert.DoesNotContain("torn", output.ToString(), StringComparison.Ordinal);
        Assert.Matches(@"^\[ \d\d:\d\d:\d\d\.\d\d\d \] the next line\r?\n$", output.ToString());
    }

    private sealed class FailingValue : LogEventPropertyValue
    {
        public override void Render(TextWriter output, string? format = null, IFormatProvider? formatProvider = null)
        {
            output.Write("torn");
            throw new InvalidOperationException("cannot render");
        }
    }

    private static FiberEngine StartEngine(TimeProvider clock, ILogger logger)
    {
        var engine = new FiberEngine(new FiberEngineOptions { LoopCount = 1, TimeProvider = clock, Logger = logger });
        engine.Start();
        return engine;
    }
}
