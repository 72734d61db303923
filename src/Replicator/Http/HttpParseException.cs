using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;

namespace Replicator.Http;

/// <summary>What is wrong with a message: the HTTP layer names the fault, whoever owns the message decides what it means.</summary>
internal enum HttpFault
{
    /// <summary>A request line over the limit (a proxy answers 414).</summary>
    RequestLineTooLong,

    /// <summary>A head over the limit (431 for a request).</summary>
    HeadTooLarge,

    /// <summary>An HTTP version other than 1.0 and 1.1 (505 for a request).</summary>
    UnsupportedVersion,

    /// <summary>The start line cannot be read.</summary>
    MalformedStartLine,

    /// <summary>A header field cannot be read (folding, no name, control characters).</summary>
    MalformedField,

    /// <summary>The body's framing is ambiguous or invalid (Content-Length, Transfer-Encoding): smuggling territory.</summary>
    MalformedFraming,

    /// <summary>A chunk of a chunked body cannot be read.</summary>
    MalformedChunk,

    /// <summary>The request target is not a URL this proxy takes.</summary>
    MalformedUrl,
}

/// <summary>
/// A message that can never become valid, however many more bytes arrive: the parser's "malformed" answer (its
/// "need more bytes" answer is a plain false). Carries the fault and a one-line reason, never a status: the same
/// fault is the client's in a request and the origin's in a response (see Proxy/Blame).
/// </summary>
internal sealed class HttpParseException(HttpFault fault, string reason) : Exception(reason)
{
    public HttpFault Fault { get; } = fault;

    [DoesNotReturn]
    [StackTraceHidden]
    public static void Reject(HttpFault fault, string reason) => throw new HttpParseException(fault, reason);
}
