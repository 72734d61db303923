namespace Replicator.Fibers;

/// <summary>Which readiness backend a loop uses.</summary>
public enum PollerKind
{
    /// <summary>epoll(7), edge-triggered: cost per turn grows with the ready sockets only. The default.</summary>
    Epoll,

    /// <summary>poll(2) over every waiting socket: the portable fallback.</summary>
    Poll,
}

/// <summary>How accepted connections are spread over the loops.</summary>
public enum ListenerDistribution
{
    /// <summary>Each loop has its own listening socket on the same port (SO_REUSEPORT); the kernel spreads connections by a hash.</summary>
    ReusePort,

    /// <summary>
    /// Loop 0 accepts every connection and hands each to the next loop in turn: the default, since a hash puts a few
    /// heavy connections on one loop as often as not (four on two loops: 3-1 or 4-0 half the time), in turn never.
    /// </summary>
    HandOff,
}

public sealed class FiberEngineOptions
{
    /// <summary>The engine's defaults, for a host that lets its user change some of them.</summary>
    public static FiberEngineOptions Defaults { get; } = new();

    /// <summary>
    /// One loop per core. Two per core were the default while a loop copied large bodies itself and more loops than
    /// cores let the scheduler run one beside each reader; with large bodies sent from a mapping, 1, 2 and 4 loops on
    /// two cores give the same 100 MiB rate, and fewer loops mean fewer threads for the cores' time: 4 KiB hits with
    /// two loops handed connections in turn ran at 1.1x the rate of four, with about two thirds of their p99
    /// (docs/benchmarks.md, "One loop per core, connections handed out in turn").
    /// </summary>
    public static int DefaultLoopCount => Environment.ProcessorCount;

    /// <summary>Number of loops (threads); default <see cref="DefaultLoopCount"/>.</summary>
    public int LoopCount { get; init; } = DefaultLoopCount;

    public PollerKind Poller { get; init; } = PollerKind.Epoll;

    public ListenerDistribution Distribution { get; init; } = ListenerDistribution.HandOff;

    /// <summary>The clock every deadline is measured by; tests pass a FakeTimeProvider.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>Where the engine logs its own events (fiber failures, accept errors); default Serilog's Log.Logger.</summary>
    public Serilog.ILogger? Logger { get; init; }

    /// <summary>
    /// A loop that has just run at least this many pieces of work in one turn gives its core to any other runnable
    /// thread (sched_yield) before it polls again (0: never). Under load, on a machine whose cores are shared (with
    /// the other loops, or with clients on the same host), a loop otherwise runs on to the end of its time slice while
    /// the threads that would read its answers and send the next requests wait for the core; yielding after a large
    /// batch bounds that wait to about one batch. When nothing else is runnable the call returns at once.
    /// docs/benchmarks.md, "Loops that yield after a large batch".
    /// </summary>
    public int YieldAfter { get; init; } = DefaultYieldAfter;

    /// <summary>The batch size after which a loop yields by default (<see cref="YieldAfter"/>).</summary>
    public const int DefaultYieldAfter = 8;

    /// <summary>How a loop yields its core; tests count the calls.</summary>
    public Action Yield { get; init; } = static () => Thread.Yield();

    /// <summary>Listen backlog of each listening socket.</summary>
    public int Backlog { get; init; } = 1024;
}
