using System.IO.Abstractions;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Replicator.Cache;
using Replicator.Fibers;
using Replicator.Proxy;

namespace Replicator.Tests;

/// <summary>
/// The real proxy, started in-process on a loopback port chosen by the OS, with its own cache root, in front of a
/// real origin; HttpClient and raw sockets talk to it as clients would.
/// </summary>
internal sealed class ProxyFixture : IAsyncDisposable
{
    private readonly FiberEngine _engine;
    private bool _ownsRoot;

    private ProxyFixture(TestOrigin origin, FiberEngine engine, ProxyServer server, string root, IPEndPoint endpoint, TimeProvider clock)
    {
        Origin = origin;
        Server = server;
        _engine = engine;
        Root = root;
        Endpoint = endpoint;
        Clock = clock;
        Client = NewClient();
    }

    public TestOrigin Origin { get; }

    public ProxyServer Server { get; }

    public string Root { get; }

    public IPEndPoint Endpoint { get; }

    public TimeProvider Clock { get; }

    public HttpClient Client { get; }

    /// <summary>The access-log records, as the proxy writes them.</summary>
    public AccessRecords Accesses { get; private init; } = new();

    public IReadOnlyList<FiberLoop> Loops => _engine.Loops;

    /// <param name="configureAfterOrigin">Runs once the origin listens (its port known), before <paramref name="configure"/>.</param>
    /// <param name="fileSystem">The cache's file system (the real one unless a test gates it).</param>
    public static async Task<ProxyFixture> StartAsync(Func<FixtureSettings, FixtureSettings>? configure = null, TimeProvider? clock = null, int loops = 2, ListenerDistribution distribution = ListenerDistribution.ReusePort, Action<TestOrigin>? configureAfterOrigin = null, IFileSystem? fileSystem = null)
    {
        var origin = await TestOrigin.StartAsync();
        configureAfterOrigin?.Invoke(origin);
        var root = Path.Combine(Path.GetTempPath(), "replicator-test-" + Guid.NewGuid().ToString("N"), "cache");
        var settings = new FixtureSettings { Root = root };
        settings = configure?.Invoke(settings) ?? settings;
        var ownsRoot = settings.Root == root;
        root = settings.Root;
        clock ??= TimeProvider.System;
        var engine = new FiberEngine(new FiberEngineOptions { LoopCount = loops, TimeProvider = clock, Distribution = distribution });
        var accesses = new AccessRecords();
        var server = new ProxyServer(settings.ToProxyOptions(), settings.ToCacheOptions(), fileSystem ?? new FileSystem(), clock) { OnAccess = accesses.Add };
        var endpoint = server.Listen(engine, settings.Endpoint);
        engine.Start();
        return new ProxyFixture(origin, engine, server, root, endpoint, clock) { _ownsRoot = ownsRoot, Accesses = accesses };
    }

    /// <summary>A client through the proxy; a body read to its end means the proxy has also stored it (<see cref="SettlingHandler"/>).</summary>
    public HttpClient NewClient() => new(new SettlingHandler(
        new SocketsHttpHandler
        {
            Proxy = new WebProxy($"http://{Endpoint}"),
            UseProxy = true,
            AutomaticDecompression = DecompressionMethods.None,
            AllowAutoRedirect = false,
        },
        () => Server.Downloads.CommitsSettled))
    { Timeout = TimeSpan.FromSeconds(30) };

    /// <summary>Waits (bounded) until the bodies the proxy's clients have are committed into the tree.</summary>
    public Task SettledAsync() => Server.Downloads.CommitsSettled.WaitAsync(TimeSpan.FromSeconds(30));

    public string CachedPath(string path) => Path.Combine(Root, $"127.0.0.1:{Origin.Port}") + path;

    /// <summary>Sends raw bytes on a new connection and reads until the proxy closes it or <paramref name="until"/> holds.</summary>
    public async Task<string> RawAsync(string request, Func<string, bool>? until = null)
    {
        var reply = await RawClient.ExchangeAsync(Endpoint, request, until);
        await SettledAsync();
        return reply;
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await _engine.StopAsync(TimeSpan.Zero).WaitAsync(TimeSpan.FromSeconds(10));
        _engine.Dispose();
        Server.Dispose();
        await Origin.DisposeAsync();
        var top = Path.GetDirectoryName(Root)!;
        if (_ownsRoot && Directory.Exists(top))
        {
            Directory.Delete(top, recursive: true);
        }
    }
}

/// <summary>
/// The options a test changes, flat (<c>s => s with { Static = true }</c>), mapped onto the proxy's and the cache's
/// options; every other value is the program's default.
/// </summary>
internal sealed record FixtureSettings
{
    /// <summary>The upstream rules of every test: the defaults, with loopback opened for the test's own origins (as --allow-to 127.0.0.0/8).</summary>
    public static UpstreamAccess LoopbackOrigins { get; } = new([AddressRange.Loopback4, AddressRange.Loopback6], []);

    public IPEndPoint Endpoint { get; init; } = new(IPAddress.Loopback, 0);

    public required string Root { get; init; }

    public TimeSpan Timeout { get; init; } = ProxyOptions.Defaults.Timeout;

    public TimeSpan RequestHeadTimeout { get; init; } = ProxyOptions.Defaults.RequestHeadTimeout;

    public TimeSpan ResponseHeadTimeout { get; init; } = ProxyOptions.Defaults.ResponseHeadTimeout;

    public int MaxClientConnections { get; init; } = ProxyOptions.Defaults.MaxClientConnections;

    public ClientAccess Access { get; init; } = ProxyOptions.Defaults.Access;

    public UpstreamAccess Upstream { get; init; } = LoopbackOrigins;

    public IReadOnlySet<int> ConnectPorts { get; init; } = ProxyOptions.Defaults.ConnectPorts;

    public ParentProxy? External { get; init; }

    public long Limit { get; init; }

    public MirrorRoutes Mirrors { get; init; } = MirrorRoutes.None;

    public System.Security.Cryptography.X509Certificates.X509Certificate2Collection ExtraAuthorities { get; init; } = [];

    public bool Static { get; init; }

    public bool Offline { get; init; }

    public PathMapping Mapping { get; init; } = PathMapping.None;

    public long FinishBelow { get; init; } = CacheOptions.Defaults.FinishBelow;

    public long DirectWriteAbove { get; init; } = CacheOptions.Defaults.DirectWriteAbove;

    public FileClasses Classes { get; init; } = FileClasses.BuiltIn;

    public int HeuristicPercent { get; init; } = CacheOptions.Defaults.HeuristicPercent;

    /// <summary>The size cap and the like; the ledger writes only when a test flushes it (or the cap is passed), never on a timer.</summary>
    public Replicator.Cache.Upkeep.UpkeepOptions Upkeep { get; init; } = new() { Interval = System.Threading.Timeout.InfiniteTimeSpan };

    public ClientAccess Admin { get; init; } = ProxyOptions.Defaults.Admin;

    public ProxyOptions ToProxyOptions() => new()
    {
        Timeout = Timeout,
        RequestHeadTimeout = RequestHeadTimeout,
        ResponseHeadTimeout = ResponseHeadTimeout,
        MaxClientConnections = MaxClientConnections,
        Access = Access,
        Upstream = Upstream,
        ConnectPorts = ConnectPorts,
        External = External,
        Limit = Limit,
        Mirrors = Mirrors,
        ExtraAuthorities = ExtraAuthorities,
        Admin = Admin,
    };

    public CacheOptions ToCacheOptions() => new()
    {
        Root = Root,
        Mapping = Mapping,
        Serve = Offline ? ServeWithoutAsking.Offline : Static ? ServeWithoutAsking.Static : ServeWithoutAsking.Never,
        FinishBelow = FinishBelow,
        DirectWriteAbove = DirectWriteAbove,
        Classes = Classes,
        HeuristicPercent = HeuristicPercent,
        Upkeep = Upkeep,
    };
}

/// <summary>The access-log records of one proxy; a record is written just after its response, so tests wait for it.</summary>
internal sealed class AccessRecords
{
    private readonly List<AccessRecord> _records = [];
    private TaskCompletionSource _added = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public void Add(AccessRecord record)
    {
        TaskCompletionSource added;
        lock (_records)
        {
            _records.Add(record);
            added = _added;
            _added = new(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        added.SetResult();
    }

    /// <summary>The outcomes (HIT, MISS, ...) of the requests for <paramref name="url"/> once there are <paramref name="count"/> (bounded wait).</summary>
    public async Task<string[]> OutcomesAsync(string url, int count) => [.. (await RecordsAsync(url, count)).Select(record => record.Outcome)];

    /// <summary>The outcomes with the file class the log names ("HIT immutable"), as <see cref="OutcomesAsync"/>.</summary>
    public async Task<string[]> OutcomesWithClassAsync(string url, int count) =>
        [.. (await RecordsAsync(url, count)).Select(record => $"{record.Outcome} {FileClasses.Name(record.FileClass)}")];

    private async Task<AccessRecord[]> RecordsAsync(string url, int count)
    {
        var deadline = DateTime.UtcNow + RawClient.ReadBound;
        while (true)
        {
            Task added;
            lock (_records)
            {
                var records = _records.Where(record => record.Url == url).ToArray();
                if (records.Length >= count)
                {
                    return records;
                }

                added = _added.Task;
            }

            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero)
            {
                throw new TimeoutException($"fewer than {count} access records for {url}");
            }

            await added.WaitAsync(left).ContinueWith(_ => { }, TaskScheduler.Default);
        }
    }
}
