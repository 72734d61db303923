using System.Net;
using Replicator.Fibers;

namespace Replicator.Hosting;

/// <summary>What the program itself is told: where to listen, the engine's shape, logging.</summary>
internal sealed record HostOptions
{
    public static HostOptions Defaults { get; } = new();

    public const int DefaultPort = 8080;

    public IReadOnlyList<IPEndPoint> Endpoints { get; init; } = [new IPEndPoint(IPAddress.Loopback, DefaultPort)];

    /// <summary>Engine loops (--threads); the engine's own default (one per core).</summary>
    public int Threads { get; init; } = FiberEngineOptions.Defaults.LoopCount;

    public PollerKind Poller { get; init; } = FiberEngineOptions.Defaults.Poller;

    public ListenerDistribution Distribution { get; init; } = FiberEngineOptions.Defaults.Distribution;

    public bool Debug { get; init; }

    public int Verbosity { get; init; }

    /// <summary>The log file (--log): appended to, reopened on SIGHUP; null: standard output.</summary>
    public string? LogFile { get; init; }

    /// <summary>Where to write the process id (--pid), removed at exit.</summary>
    public string? PidFile { get; init; }

    /// <summary>
    /// The engine's poller and distribution from the environment (REPLICATOR_POLLER=epoll|poll,
    /// REPLICATOR_DISTRIBUTION=reuseport|handoff): knobs for benchmarks, read by the program, never by the engine.
    /// </summary>
    public HostOptions WithEnvironment() => this with
    {
        Poller = Environment.GetEnvironmentVariable("REPLICATOR_POLLER") is { } poller && Enum.TryParse<PollerKind>(poller, ignoreCase: true, out var kind) ? kind : Poller,
        Distribution = Environment.GetEnvironmentVariable("REPLICATOR_DISTRIBUTION") is { } name && Enum.TryParse<ListenerDistribution>(name, ignoreCase: true, out var distribution) ? distribution : Distribution,
    };
}
