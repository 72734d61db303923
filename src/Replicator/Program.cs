using Replicator.Hosting;

namespace Replicator;

internal static class Program
{
    public static int Main(string[] args) => ReplicatorCommand.Run(args, settings => ProxyHost.Run(settings with { Host = settings.Host.WithEnvironment() }));
}
