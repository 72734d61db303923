using System.Globalization;
using System.Text;
using Serilog.Core;
using Serilog.Events;

namespace Replicator.Fibers.Logging;

/// <summary>How log lines written inside fibers reach the output.</summary>
public enum FiberLogMode
{
    /// <summary>
    /// Each fiber's lines are held and written as one block when it ends, each stamped with the seconds since the fiber
    /// started (the original GatherFiber): the story of one connection reads in one piece.
    /// </summary>
    Gather,

    /// <summary>Lines go out at once, each prefixed with the fiber's id in hex (the original DebugFiber).</summary>
    Debug,
}

/// <summary>
/// A Serilog sink that knows which fiber is running, so fiber code logs through Serilog's static <c>Log</c>
/// without passing a logger around. Lines written outside any fiber (and by fibers that opt out of gathering, such
/// as listeners) are written at once with the time of day.
/// </summary>
public sealed class FiberLogSink : ILogEventSink
{
    [ThreadStatic]
    private static StringWriter? s_line;

    private readonly object _lock = new();
    private TextWriter _output;

    private readonly bool _flushEachWrite;

    /// <param name="flushEachWrite">
    /// Flush after every line (tests, interactive use); false leaves flushing to <see cref="Flush"/>, called on a
    /// timer by the program, so a busy proxy does not pay a system call per access-log line.
    /// </param>
    public FiberLogSink(TextWriter output, FiberLogMode mode, bool flushEachWrite = true)
    {
        _output = output;
        Mode = mode;
        _flushEachWrite = flushEachWrite;
        _pending = flushEachWrite ? null : new ThreadLocal<StringWriter>(() => new StringWriter(CultureInfo.InvariantCulture), trackAllValues: true);
    }

    /// <summary>
    /// Without a flush per write, each thread gathers its lines in a buffer of its own, under a lock only
    /// <see cref="Flush"/> ever contends for: the loops of a busy proxy write an access-log line per request, and
    /// took the output's lock for each. The output's lock is taken once per <see cref="PendingLimit"/> characters.
    /// Tracking all values keeps the buffer of a thread that ended (a loop stopped before the last flush) in
    /// <see cref="ThreadLocal{T}.Values"/>, so its lines are still written.
    /// </summary>
    private readonly ThreadLocal<StringWriter>? _pending;

    private const int PendingLimit = 16 * 1024;

    /// <summary>Writes out every thread's gathered lines and flushes the output.</summary>
    public void Flush()
    {
        DrainAll();
        lock (_lock)
        {
            _output.Flush();
        }
    }

    /// <summary>
    /// A log event property that makes the event go out at once even from a gathering fiber (an access-log line
    /// should not wait for its connection to close).
    /// </summary>
    public const string ImmediateProperty = "Immediate";

    public FiberLogMode Mode { get; }

    /// <summary>
    /// Replaces the output with the one <paramref name="open"/> returns (a log file reopened after rotation). Under
    /// the sink's lock, the old output is flushed before the new one is opened and closed after: a file reopened
    /// under the same name (no rotation) then starts after every line written so far, and no line is written
    /// between. Opening the new one before flushing the old let both write at the same offset (issue 9). When
    /// <paramref name="open"/> throws, the old output stays.
    /// </summary>
    public void ReplaceOutput(Func<TextWriter> open)
    {
        DrainAll();
        lock (_lock)
        {
            _output.Flush();
            var replacement = open();
            var old = _output;
            _output = replacement;
            old.Dispose();
        }
    }

    public void Emit(LogEvent logEvent)
    {
        var fiber = Fiber.Current;
        if (fiber is null || (Mode == FiberLogMode.Gather && (!fiber.GatherLog || logEvent.Properties.ContainsKey(ImmediateProperty))))
        {
            WriteStamped(logEvent);
        }
        else if (Mode == FiberLogMode.Debug)
        {
            Write($" {fiber.Id:X4} {Render(logEvent)}");
        }
        else
        {
            var elapsed = fiber.Elapsed;
            fiber.Gather(this, logEvent.Timestamp - elapsed, string.Create(CultureInfo.InvariantCulture, $"{elapsed.TotalSeconds,7:0.000} {Render(logEvent)}"));
        }
    }

    internal void WriteBlock(Fiber fiber, DateTimeOffset startedAt, List<string> lines)
    {
        var block = new StringBuilder();
        block.Append(CultureInfo.InvariantCulture, $"[ {fiber.Id:X4} ] {startedAt.ToLocalTime():yyyy-MM-dd HH:mm:ss.fff} {fiber.Name}").AppendLine();
        foreach (var line in lines)
        {
            block.AppendLine(line);
        }

        Write(block.ToString(), newline: false);
    }

    /// <summary>A line as a string, rendered in one reused writer per thread.</summary>
    private static string Render(LogEvent logEvent, bool stamped = false)
    {
        var text = s_line ??= new StringWriter(CultureInfo.InvariantCulture);
        text.GetStringBuilder().Clear();
        RenderLine(text, logEvent, stamped);
        return text.ToString();
    }

    /// <summary>
    /// A line with the time of day first. Without a flush per write it is rendered straight into the thread's
    /// buffer: an access-log line per request is the busiest output, and its string was garbage at once.
    /// </summary>
    private void WriteStamped(LogEvent logEvent)
    {
        if (_pending is null)
        {
            Write(Render(logEvent, stamped: true));
        }
        else
        {
            AppendPending(logEvent, static (text, logEvent) => RenderLine(text, logEvent, stamped: true), newline: true);
        }
    }

    /// <summary>
    /// Adds what <paramref name="write"/> writes to this thread's buffer (drained to the output once it is full). A
    /// write that fails half-way is taken out again: nothing of it stays to be glued to the next line.
    /// </summary>
    private void AppendPending<TState>(TState state, Action<TextWriter, TState> write, bool newline)
    {
        var pending = _pending!.Value!;
        lock (pending)
        {
            var lines = pending.GetStringBuilder();
            var start = lines.Length;
            try
            {
                write(pending, state);
            }
            catch
            {
                lines.Length = start;
                throw;
            }

            if (newline)
            {
                pending.Write(Environment.NewLine);
            }

            if (lines.Length >= PendingLimit)
            {
                Drain(pending);
            }
        }
    }

    /// <summary>Level (when above Information), message, and the exception of an error; with the time of day first when stamped.</summary>
    private static void RenderLine(TextWriter text, LogEvent logEvent, bool stamped)
    {
        if (stamped)
        {
            var time = logEvent.Timestamp.ToLocalTime();
            Span<char> stamp = ['[', ' ', '0', '0', ':', '0', '0', ':', '0', '0', '.', '0', '0', '0', ' ', ']', ' '];
            Digits(stamp.Slice(2, 2), time.Hour);
            Digits(stamp.Slice(5, 2), time.Minute);
            Digits(stamp.Slice(8, 2), time.Second);
            Digits(stamp.Slice(11, 3), time.Millisecond);
            text.Write(stamp);
        }

        text.Write(logEvent.Level switch
        {
            LogEventLevel.Warning => "WARNING ",
            LogEventLevel.Error => "ERROR ",
            LogEventLevel.Fatal => "FATAL ",
            _ => string.Empty,
        });
        logEvent.RenderMessage(text, CultureInfo.InvariantCulture);
        if (logEvent.Exception is { } e && logEvent.Level >= LogEventLevel.Error)
        {
            text.WriteLine();
            text.Write(e);
        }
    }

    /// <summary>Each thread's buffer in turn (its lock, then the output's: always in that order).</summary>
    private void DrainAll()
    {
        if (_pending is null)
        {
            return;
        }

        foreach (var pending in _pending.Values)
        {
            lock (pending)
            {
                Drain(pending);
            }
        }
    }

    /// <summary>Writes a thread's gathered lines to the output; the caller holds the buffer's lock.</summary>
    private void Drain(StringWriter pending)
    {
        var lines = pending.GetStringBuilder();
        if (lines.Length == 0)
        {
            return;
        }

        lock (_lock)
        {
            foreach (var chunk in lines.GetChunks())
            {
                _output.Write(chunk.Span);
            }
        }

        lines.Clear();
    }

    private static void Digits(Span<char> destination, int value)
    {
        for (var i = destination.Length - 1; i >= 0; i--, value /= 10)
        {
            destination[i] = (char)('0' + (value % 10));
        }
    }

    private void Write(string text, bool newline = true)
    {
        if (_pending is not null)
        {
            AppendPending(text, static (pending, text) => pending.Write(text), newline);
            return;
        }

        lock (_lock)
        {
            if (newline)
            {
                _output.WriteLine(text);
            }
            else
            {
                _output.Write(text);
            }

            if (_flushEachWrite)
            {
                _output.Flush();
            }
        }
    }
}
