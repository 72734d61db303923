using System.Collections.Concurrent;
using Replicator.Fibers.Logging;
using Serilog;

namespace Replicator.Fibers.Tests;

/// <summary>A Serilog logger whose output, through the fiber sink, is kept in memory for assertions.</summary>
internal sealed class CapturingLog : IDisposable
{
    private readonly LineWriter _writer = new();

    public CapturingLog(FiberLogMode mode = FiberLogMode.Gather)
    {
        Sink = new FiberLogSink(_writer, mode);
        Logger = new LoggerConfiguration().MinimumLevel.Verbose().WriteTo.Sink(Sink).CreateLogger();
    }

    public FiberLogSink Sink { get; }

    public void Dispose() => _writer.Dispose();

    public ILogger Logger { get; }

    /// <summary>Every write, one entry each (a gathered block is one write).</summary>
    public IReadOnlyList<string> Lines => [.. _writer.Writes];

    private sealed class LineWriter : StringWriter
    {
        public ConcurrentQueue<string> Writes { get; } = new();

        public override void WriteLine(string? value) => Writes.Enqueue(value ?? string.Empty);

        public override void Write(string? value) => Writes.Enqueue(value ?? string.Empty);
    }
}
