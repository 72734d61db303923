using System.IO.Abstractions;
using System.Net;
using System.Net.Sockets;
using Replicator.Cache;
using Replicator.Fibers;
using Replicator.Http;

namespace Replicator.Proxy;

/// <summary>
/// The replicating proxy: listens on the configured endpoints of a fiber engine and runs one
/// <see cref="ClientSession"/> per accepted connection. Tests start it in-process on port 0.
/// </summary>
internal sealed class ProxyServer : IDisposable
{
    public ProxyServer(ProxyOptions options, CacheOptions cacheOptions, IFileSystem fileSystem, TimeProvider? clock = null)
    {
        Options = options;
        CacheOptions = cacheOptions;
        Clock = clock ?? TimeProvider.System;
        Store = new CacheStore(fileSystem, cacheOptions.Root, Clock) { DirectWriteAbove = cacheOptions.DirectWriteAbove };
        CopiedBodies = CopiedBody.Keeper(Clock, Store.Tree, Responder.SmallBody, cacheOptions.CopiedBodyBudget);
        MappedBodies = MappedBody.Keeper(Clock, Store.Tree, cacheOptions.MappedBodyBudget);
        Admission = new ClientAdmission(options.Access, options.MaxClientConnections, Clock);
        Metrics = new ProxyMetrics(this);
        Origin = new OriginClient(options, cacheOptions.Offline, Clock, Metrics);
        Usage = new Cache.Upkeep.UsageLedger(Store, cacheOptions.Upkeep, Clock);
        History = new Console.ActivityHistory(Counters, Clock);
    }

    /// <summary>Requests per minute over the last hours (the console's chart).</summary>
    public Console.ActivityHistory History { get; }

    /// <summary>The figures for monitoring: System.Diagnostics.Metrics instruments and /metrics.</summary>
    public ProxyMetrics Metrics { get; }

    /// <summary>What the tree cannot hold (last use, hits, totals) and the size cap's eviction.</summary>
    public Cache.Upkeep.UsageLedger Usage { get; }

    /// <summary>Writes what is recorded and stops the upkeep (after the engine has stopped).</summary>
    public void Dispose()
    {
        Usage.Dispose();
        Metrics.Dispose();
        History.Dispose();
    }

    public ProxyOptions Options { get; }

    public CacheOptions CacheOptions { get; }

    public TimeProvider Clock { get; }

    public CacheStore Store { get; }

    public Downloads Downloads { get; } = new();

    /// <summary>What the package indexes in the tree say each file must be (verification of downloads).</summary>
    public Cache.Packages.PackageIndexes Indexes { get; } = new();

    /// <summary>The cache paths being revalidated in the background (stale-while-revalidate): one at a time each.</summary>
    public System.Collections.Concurrent.ConcurrentDictionary<string, byte> BackgroundRevalidations { get; } = new(StringComparer.Ordinal);

    /// <summary>The origin side: upstream connections, the parent proxy, pacing.</summary>
    public OriginClient Origin { get; }

    /// <summary>Called with every access-log record as it is written (the tests read outcomes through it).</summary>
    public Action<AccessRecord>? OnAccess { get; init; }

    /// <summary>Requests counted by file class and outcome since start (the status page shows them).</summary>
    public OutcomeCounters Counters { get; } = new();

    /// <summary>Which connections are served at all (--ip, --max-client-connections).</summary>
    public ClientAdmission Admission { get; }

    /// <summary>Small bodies kept in memory (see <see cref="CopiedBody"/>).</summary>
    public KeptBodies<CopiedBody> CopiedBodies { get; }

    /// <summary>Large bodies kept mapped for clients on this host (see <see cref="MappedBody"/>).</summary>
    public KeptBodies<MappedBody> MappedBodies { get; }

    /// <summary>Listens on <paramref name="endpoint"/> (port 0: any); returns the bound endpoint.</summary>
    public IPEndPoint Listen(FiberEngine engine, IPEndPoint endpoint) => engine.Listen(endpoint, Serve);

    /// <summary>Serves one accepted client connection (the engine's connection handler).</summary>
    public ValueTask Serve(Fiber fiber, Socket client)
    {
        if (Admission.Admit(client, out var refusal) is not { } address)
        {
            return ClientAdmission.RefuseAsync(fiber, client, refusal);
        }

        ClientSession session;
        try
        {
            session = new ClientSession(this, fiber, client, address);
        }
        catch
        {
            Admission.Leave(address);
            client.Dispose();
            throw;
        }

        return session.RunAsync();
    }

    /// <summary>
    /// Answers a request of this process itself (the mirror's) on <paramref name="fiber"/>, as a client's request is
    /// answered, into <paramref name="response"/> instead of a socket; returns the exchange (its status and outcome),
    /// its access line written. A failure a client's connection would end with (a timeout, the engine stopping) is thrown.
    /// </summary>
    public async ValueTask<Exchange> AnswerInProcessAsync(Fiber fiber, RequestHead request, InProcessResponse response, string clientName)
    {
        var exchange = new Exchange(this, fiber, clientName, request, response);
        await ClientSession.HandleAsync(exchange);
        exchange.WriteAccessLog();
        return exchange;
    }
}
