using System.Net;

namespace Replicator.Hosting;

/// <summary>Everything the command line decides, validated: the rest of the program never sees raw arguments.</summary>
internal sealed record Settings
{
    public required IReadOnlyList<IPEndPoint> Endpoints { get; init; }

    public required string Root { get; init; }

    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>How long a client may take to send a whole request head (slow heads are cut off: 408).</summary>
    public TimeSpan RequestHeadTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How long an origin may take to send a whole response head (504 after that).</summary>
    public TimeSpan ResponseHeadTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Open connections one client address may hold (--max-client-connections); 0: no cap.</summary>
    public int MaxClientConnections { get; init; } = 256;

    public int Threads { get; init; } = DefaultThreads;

    /// <summary>
    /// Two engine loops per core: with clients on the same host reading as fast as we send, more loops than cores
    /// let the scheduler run a loop beside each reader, and a few heavy connections rarely share one loop
    /// (docs/benchmarks.md, "How the hit paths were made faster"). Idle loops cost a blocked thread each.
    /// </summary>
    public static int DefaultThreads => 2 * Environment.ProcessorCount;

    public bool Debug { get; init; }

    public int Verbosity { get; init; }

    /// <summary>Serve a complete cached file without asking the origin.</summary>
    public bool Static { get; init; }

    /// <summary>Never connect upstream: cached entries are served, anything else gets 504.</summary>
    public bool Offline { get; init; }

    /// <summary>A download whose last client left still finishes when its body is at most this many bytes.</summary>
    public long FinishBelow { get; init; } = 16 * 1024 * 1024;

    /// <summary>The log file (--log): appended to, reopened on SIGHUP; null: standard output.</summary>
    public string? LogFile { get; init; }

    /// <summary>Where to write the process id (--pid), removed at exit.</summary>
    public string? PidFile { get; init; }

    /// <summary>--alias and --flat: where a URL's cache path really goes.</summary>
    public Cache.PathMapping Mapping { get; init; } = Cache.PathMapping.None;

    /// <summary>The parent proxy every upstream request goes through (--external), or null.</summary>
    public Proxy.ParentProxy? External { get; init; }

    /// <summary>Upstream bytes per second for each transfer (--limit); 0: no limit.</summary>
    public long Limit { get; init; }

    /// <summary>Clients allowed to use the proxy (--ip); loopback only by default.</summary>
    public Proxy.ClientAccess Access { get; init; } = Proxy.ClientAccess.LoopbackOnly;

    /// <summary>Where the proxy may connect on a client's behalf (--allow-to, --allow-port).</summary>
    public Proxy.UpstreamAccess Upstream { get; init; } = Proxy.UpstreamAccess.Default;

    /// <summary>Ports a CONNECT tunnel may reach.</summary>
    public IReadOnlySet<int> ConnectPorts { get; init; } = new HashSet<int> { 443 };
}
