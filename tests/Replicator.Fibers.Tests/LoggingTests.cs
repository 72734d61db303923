using Microsoft.Extensions.Time.Testing;
using Replicator.Fibers.Logging;
using Serilog;

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

    private static FiberEngine StartEngine(TimeProvider clock, ILogger logger)
    {
        var engine = new FiberEngine(new FiberEngineOptions { LoopCount = 1, TimeProvider = clock, Logger = logger });
        engine.Start();
        return engine;
    }
}
