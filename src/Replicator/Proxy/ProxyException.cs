using System.Net.Sockets;
using Replicator.Fibers;
using Replicator.Http;

namespace Replicator.Proxy;

/// <summary>The step at which a request failed: it names the side at fault.</summary>
internal enum FailedStep
{
    /// <summary>The client's request head (or its URL, or its framing) is malformed.</summary>
    ClientHead,

    /// <summary>The client did not send a whole request head in time.</summary>
    ClientTimeout,

    /// <summary>The client's request body is malformed.</summary>
    ClientBody,

    /// <summary>The client asked for something a proxy does not do (origin-form methods other than GET/HEAD).</summary>
    ClientRequest,

    /// <summary>The client asked for a page of the proxy's own that does not exist.</summary>
    NoSuchPage,

    /// <summary>The proxy's rules refuse it: a client outside --ip, an internal address, a port not allowed.</summary>
    NotAllowed,

    /// <summary>A client address already holds the most connections it may.</summary>
    OverCap,

    /// <summary>The origin (or the parent proxy) could not be resolved, reached or connected to.</summary>
    UpstreamConnect,

    /// <summary>The origin did not answer, or not in time.</summary>
    UpstreamTimeout,

    /// <summary>The origin's response head is malformed, or not one a proxy carries.</summary>
    UpstreamHead,

    /// <summary>The origin's body broke off or is malformed.</summary>
    UpstreamBody,

    /// <summary>The origin's body does not match what the repository's own indexes say of it (size or SHA256).</summary>
    Unverified,

    /// <summary>The parent proxy refused a CONNECT.</summary>
    UpstreamRefused,

    /// <summary>--offline: the answer needs the origin.</summary>
    Offline,

    /// <summary>A stale entry that must be revalidated could not be.</summary>
    MustRevalidate,

    /// <summary>The client asked with only-if-cached, and nothing fresh is stored (RFC 9111 section 5.2.1.7).</summary>
    NotCached,
}

/// <summary>Whose fault a failure is, as the access log says it.</summary>
internal enum Side
{
    Client,
    Upstream,
    Proxy,
}

/// <summary>
/// The one place where a failure becomes an answer: its status, the side at fault, and the outcome the access log
/// shows. Parsers name a fault (<see cref="HttpFault"/>), never a status; code that fails names the step.
/// </summary>
internal static class Blame
{
    public static (int Status, Side Side) Of(FailedStep step, HttpFault? fault = null) => step switch
    {
        FailedStep.ClientHead => (fault switch
        {
            HttpFault.RequestLineTooLong => 414,
            HttpFault.HeadTooLarge => 431,
            HttpFault.UnsupportedVersion => 505,
            _ => 400,
        }, Side.Client),
        FailedStep.ClientTimeout => (408, Side.Client),
        FailedStep.ClientBody or FailedStep.ClientRequest => (400, Side.Client),
        FailedStep.NotAllowed => (403, Side.Proxy),
        FailedStep.NoSuchPage => (404, Side.Client),
        FailedStep.OverCap => (503, Side.Client),
        FailedStep.UpstreamTimeout or FailedStep.MustRevalidate => (504, Side.Upstream),
        FailedStep.Offline or FailedStep.NotCached => (504, Side.Proxy),
        _ => (502, Side.Upstream),
    };

    /// <summary>The access-log outcome of a failure: OFFLINE for --offline, else ERROR with the side at fault.</summary>
    public static string Outcome(FailedStep step) => step switch
    {
        FailedStep.Offline => Outcomes.Offline,
        FailedStep.NotCached => Outcomes.Miss,
        _ => $"{Outcomes.Error}:{Of(step).Side.ToString().ToLowerInvariant()}",
    };
}

/// <summary>
/// A request that ends in an error answer: the step that failed, the one line that says what went wrong, and from
/// them (through <see cref="Blame"/>) the status and the side at fault.
/// </summary>
internal sealed class ProxyException : Exception
{
    public ProxyException(FailedStep step, string reason, HttpFault? fault = null, string? outcome = null)
        : base(reason)
    {
        Step = step;
        (Status, Side) = Blame.Of(step, fault);
        Outcome = outcome ?? Blame.Outcome(step);
    }

    public FailedStep Step { get; }

    public int Status { get; }

    public Side Side { get; }

    public string Outcome { get; }

    /// <summary>A malformed request from the client.</summary>
    public static ProxyException FromClient(HttpParseException parse) => new(FailedStep.ClientHead, parse.Message, parse.Fault);

    /// <summary>What a failure while talking to the upstream means for the client.</summary>
    public static ProxyException FromUpstream(Exception error, string upstream, TimeSpan timeout) => error switch
    {
        ProxyException known => known,
        FiberTimeoutException => new(FailedStep.UpstreamTimeout, $"upstream {upstream} did not answer within {timeout.TotalSeconds:0} s"),
        SocketException { SocketErrorCode: SocketError.HostNotFound or SocketError.NoData or SocketError.TryAgain } =>
            new(FailedStep.UpstreamConnect, $"cannot resolve the host of {upstream}"),
        SocketException { SocketErrorCode: SocketError.ConnectionRefused } => new(FailedStep.UpstreamConnect, $"upstream {upstream} refused the connection"),
        SocketException { SocketErrorCode: SocketError.ConnectionReset } => new(FailedStep.UpstreamConnect, $"upstream {upstream} reset the connection"),
        SocketException { SocketErrorCode: SocketError.NetworkUnreachable or SocketError.HostUnreachable } => new(FailedStep.UpstreamConnect, $"upstream {upstream} is unreachable"),
        SocketException socket => new(FailedStep.UpstreamConnect, $"upstream {upstream}: {socket.SocketErrorCode}"),
        HttpParseException parse => new(FailedStep.UpstreamHead, $"upstream {upstream} sent a malformed response: {parse.Message}", parse.Fault),
        System.Security.Authentication.AuthenticationException tls => new(FailedStep.UpstreamConnect, $"upstream {upstream}: TLS failed: {tls.Message}"),
        IOException { InnerException: FiberTimeoutException or SocketException } wrapped => FromUpstream(wrapped.InnerException!, upstream, timeout), // through TLS
        IOException io => new(FailedStep.UpstreamHead, $"upstream {upstream}: {io.Message}"),
        _ => new(FailedStep.UpstreamHead, $"upstream {upstream}: {error.Message}"),
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

    /// <summary>The client hung up before its response ended.</summary>
    public const string Aborted = "ABORTED";
}
