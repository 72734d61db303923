using Replicator.Hosting;

namespace Replicator;

internal static class Program
{
    public static int Main(string[] args) => ReplicatorCommand.Run(args, ProxyHost.Run);
}
