using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;

namespace Replicator.Http;

/// <summary>
/// A message that can never become valid, however many more bytes arrive: the parser's "malformed" answer (its
/// "need more bytes" answer is a plain false). Carries the status to answer with and a one-line reason.
/// </summary>
internal sealed class HttpParseException : Exception
{
    public HttpParseException(int status, string reason)
        : base(reason)
    {
        Status = status;
    }

    public HttpParseException()
    {
    }

    public HttpParseException(string message)
        : base(message)
    {
    }

    public HttpParseException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public int Status { get; } = 400;

    [DoesNotReturn]
    [StackTraceHidden]
    public static void Reject(string reason, int status = 400) => throw new HttpParseException(status, reason);
}
