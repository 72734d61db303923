using System.Net;

namespace Replicator.Hosting;

/// <summary>Everything the command line decides, validated: the rest of the program never sees raw arguments.</summary>
internal sealed record Settings
{
    public required IReadOnlyList<IPEndPoint> Endpoints { get; init; }

    public required string Root { get; init; }

    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(15);

    public int Threads { get; init; } = Environment.ProcessorCount;

    public bool Debug { get; init; }

    public int Verbosity { get; init; }
}
