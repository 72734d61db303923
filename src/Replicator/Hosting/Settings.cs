namespace Replicator.Hosting;

/// <summary>Everything the command line decides, validated, by area: the rest of the program never sees raw arguments.</summary>
internal sealed record Settings(HostOptions Host, Proxy.ProxyOptions Proxy, Cache.CacheOptions Cache);
