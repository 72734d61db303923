using Replicator.Cache.Upkeep;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace Replicator.Mirror;

/// <summary>
/// The mirror's live view on a terminal (Spectre.Console, redrawn five times a second in place): files done of those
/// known so far, bytes, rate, the time left at the rate so far, the files being fetched now, and the run's latest
/// lines. It reads <see cref="MirrorReport"/>'s counters and never writes them.
/// </summary>
internal sealed class LiveProgress : IDisposable
{
    private static readonly TimeSpan s_period = TimeSpan.FromMilliseconds(200);
    private const int ShownFiles = 8, ShownLines = 4;

    private readonly MirrorReport _report;
    private readonly CancellationTokenSource _stop = new();
    private Task _display = Task.CompletedTask;

    private LiveProgress(MirrorReport report)
    {
        _report = report;
    }

    public static LiveProgress Start(MirrorReport report)
    {
        var live = new LiveProgress(report);
        live._display = AnsiConsole.Live(live.Render()).AutoClear(false).StartAsync(live.RefreshAsync);
        return live;
    }

    /// <summary>Draws the final state once more and lets go of the terminal; once.</summary>
    public async Task StopAsync()
    {
        if (!_stop.IsCancellationRequested)
        {
            await _stop.CancelAsync();
        }

        await _display;
    }

    public void Dispose() => _stop.Dispose();

    /// <summary>"1.2 MiB of 50 MiB (2%)", or what arrived when the length is not known.</summary>
    private static string SoFar(InFlight file)
    {
        var bytes = Interlocked.Read(ref file.Bytes);
        return file.Length is > 0 and var length
            ? $"{ByteSize.Format(bytes)} of {ByteSize.Format(length)} ({bytes * 100 / length}%)"
            : ByteSize.Format(bytes);
    }

    private async Task RefreshAsync(LiveDisplayContext context)
    {
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                context.UpdateTarget(Render());
                await Task.Delay(s_period, _stop.Token);
            }
        }
        catch (OperationCanceledException)
        {
        }

        context.UpdateTarget(Render());
    }

    private Rows Render()
    {
        var report = _report;
        var finished = report.Finished;
        var planned = Math.Max(report.Planned, finished);
        var seconds = Math.Max(report.Elapsed.TotalSeconds, 0.001);
        var rate = report.ReceivedBytes / seconds;
        var eta = finished > 0 && planned > finished ? TimeSpan.FromSeconds((planned - finished) * seconds / finished) : (TimeSpan?)null;
        var lines = new List<IRenderable>
        {
            new Markup(
                $"[bold]files[/] {finished}/{planned}  {Markup.Escape(ByteSize.Format(report.ReceivedBytes))}  {Markup.Escape(ByteSize.Format((long)rate))}/s  " +
                $"[bold]ETA[/] {(eta is { } left ? left.ToString(@"h\:mm\:ss", System.Globalization.CultureInfo.InvariantCulture) : "-")}  " +
                $"[bold]fetched[/] {report.Downloaded}  [bold]current[/] {report.Current}  [bold]failed[/] {(report.Failed > 0 ? $"[red]{report.Failed}[/]" : "0")}"),
        };
        var running = report.Running.ToList();
        lines.AddRange(running.Take(ShownFiles).Select(file => new Markup($"  [grey]fetching[/] {Markup.Escape(file.Url.ToString())}  [grey]{Markup.Escape(SoFar(file))}[/]")));
        if (running.Count > ShownFiles)
        {
            lines.Add(new Markup($"  [grey]and {running.Count - ShownFiles} more[/]"));
        }

        lines.AddRange(report.Latest(ShownLines).Select(line => new Markup(Markup.Escape(line))));
        return new Rows(lines);
    }
}
