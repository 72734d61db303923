namespace Replicator.Proxy;

/// <summary>
/// What the proxy side is told: timeouts, who may use it, where it may connect, a parent proxy, pacing. Each
/// default is written here once; the command line (Hosting/) shows and maps them.
/// </summary>
internal sealed record ProxyOptions
{
    /// <summary>The defaults, for whoever needs to show them (--help).</summary>
    public static ProxyOptions Defaults { get; } = new();

    /// <summary>Port CONNECT may always reach (https); --connect-port adds others.</summary>
    public const int HttpsPort = 443;

    /// <summary>Inactivity timeout of every socket wait (--timeout).</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>How long a client may take to send a whole request head (slow heads are cut off: 408).</summary>
    public TimeSpan RequestHeadTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How long an origin may take to send a whole response head (504 after that).</summary>
    public TimeSpan ResponseHeadTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Clients allowed to use the proxy (--ip); loopback only by default.</summary>
    public ClientAccess Access { get; init; } = ClientAccess.LoopbackOnly;

    /// <summary>Open connections one client address may hold (--max-client-connections); 0: no cap.</summary>
    public int MaxClientConnections { get; init; } = 256;

    /// <summary>Where the proxy may connect on a client's behalf (--allow-to, --allow-port).</summary>
    public UpstreamAccess Upstream { get; init; } = UpstreamAccess.Default;

    /// <summary>Ports a CONNECT tunnel may reach.</summary>
    public IReadOnlySet<int> ConnectPorts { get; init; } = new HashSet<int> { HttpsPort };

    /// <summary>The parent proxy every upstream request goes through (--external), or null.</summary>
    public ParentProxy? External { get; init; }

    /// <summary>How origin-form requests map to upstream URLs (mirror URLs, --mirror NAME=URL).</summary>
    public MirrorRoutes Mirrors { get; init; } = MirrorRoutes.None;

    /// <summary>Authorities trusted for https origins besides the system's (--ca-file).</summary>
    public System.Security.Cryptography.X509Certificates.X509Certificate2Collection ExtraAuthorities { get; init; } = [];

    /// <summary>Clients allowed to change the cache: PURGE (--admin; loopback by default).</summary>
    public ClientAccess Admin { get; init; } = ClientAccess.LoopbackOnly;

    /// <summary>Upstream bytes per second for each transfer (--limit); 0: no limit.</summary>
    public long Limit { get; init; }
}
