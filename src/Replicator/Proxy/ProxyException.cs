using System.Net.Sockets;
using Replicator.Fibers;
using Replicator.Http;

namespace Replicator.Proxy;

/// <summary>
/// A request that ends in an error answer: the status and the one line that says what went wrong, with the blame
/// already decided (client fault 4xx, upstream fault 502/504). Every error status the proxy sends is chosen here.
/// </summary>
internal sealed class ProxyException : Exception
{
    public ProxyException(int status, string reason, string outcome = Outcomes.Error)
        : base(reason)
    {
        Status = status;
        Outcome = outcome;
    }

    public ProxyException()
    {
    }

    public ProxyException(string message)
        : base(message)
    {
    }

    public ProxyException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public int Status { get; } = 500;

    public string Outcome { get; } = Outcomes.Error;

    /// <summary>What a failure while talking to the upstream means for the client.</summary>
    public static ProxyException FromUpstream(Exception error, string upstream, TimeSpan timeout) => error switch
    {
        ProxyException known => known,
        FiberTimeoutException => new(504, $"upstream {upstream} did not answer within {timeout.TotalSeconds:0} s"),
        SocketException { SocketErrorCode: SocketError.HostNotFound or SocketError.NoData or SocketError.TryAgain } =>
            new(502, $"cannot resolve the host of {upstream}"),
        SocketException { SocketErrorCode: SocketError.ConnectionRefused } => new(502, $"upstream {upstream} refused the connection"),
        SocketException { SocketErrorCode: SocketError.ConnectionReset } => new(502, $"upstream {upstream} reset the connection"),
        SocketException { SocketErrorCode: SocketError.NetworkUnreachable or SocketError.HostUnreachable } => new(502, $"upstream {upstream} is unreachable"),
        SocketException socket => new(502, $"upstream {upstream}: {socket.SocketErrorCode}"),
        HttpParseException parse => new(502, $"upstream {upstream} sent a malformed response: {parse.Message}"),
        IOException io => new(502, $"upstream {upstream}: {io.Message}"),
        _ => new(502, $"upstream {upstream}: {error.Message}"),
    };
}

/// <summary>
/// The client went away (or stopped reading) while a response was being sent: its doing, never the origin's. The
/// connection is closed; nothing is answered.
/// </summary>
internal sealed class ClientGoneException(string message, Exception inner) : IOException(message, inner);

/// <summary>The outcome column of the access log.</summary>
internal static class Outcomes
{
    public const string Hit = "HIT";
    public const string Miss = "MISS";
    public const string Revalidated = "REVALIDATED";
    public const string Stale = "STALE";
    public const string Pass = "PASS";
    public const string Tunnel = "TUNNEL";
    public const string Offline = "OFFLINE";
    public const string Error = "ERROR";
}
