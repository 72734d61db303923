using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using Replicator.Fibers;

namespace Replicator.Http;

/// <summary>A head parser: true with a head, false for "need more bytes", <see cref="HttpParseException"/> for malformed.</summary>
internal delegate bool HeadParse<THead>(ReadOnlySpan<byte> buffer, [NotNullWhen(true)] out THead? head, out int consumed);

/// <summary>How reading a head ended.</summary>
internal enum HeadEnd
{
    Parsed,

    /// <summary>The other end closed the connection before a whole head.</summary>
    Closed,

    /// <summary>The whole head did not arrive within its deadline.</summary>
    TooSlow,
}

/// <summary>
/// Reads until a head parses: the loop a client's request, an origin's response and a parent proxy's CONNECT answer
/// all need. Two clocks run: each wait for bytes has <c>waitTimeout</c> (a <see cref="FiberTimeoutException"/>
/// when it passes), and the whole head has <c>headTimeout</c> from <c>started</c> (null: from its first byte), so a
/// peer trickling a line every few seconds is still cut off. With <c>idle</c>, the wait for a first byte holds no
/// buffer and ends at once when the engine stops (a connection between requests).
/// </summary>
internal static class HeadReader
{
    // Pooled: this runs once per request on every connection, and usually waits.
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public static async ValueTask<(THead? Head, HeadEnd End)> ReadAsync<THead>(BufferedConnection connection, Fiber fiber, HeadParse<THead> parse, TimeSpan waitTimeout, TimeSpan headTimeout, long? started, bool idle = false, bool readable = false)
        where THead : class
    {
        var clock = fiber.Loop.TimeProvider;
        started ??= connection.BufferedCount > 0 ? clock.GetTimestamp() : null;
        while (true)
        {
            if (parse(connection.Buffered, out var head, out var consumed))
            {
                connection.Consume(consumed);
                return (head, HeadEnd.Parsed);
            }

            var timeout = waitTimeout;
            if (started is { } since)
            {
                var left = headTimeout - clock.GetElapsedTime(since);
                if (left <= TimeSpan.Zero)
                {
                    return (null, HeadEnd.TooSlow);
                }

                timeout = left < timeout ? left : timeout;
            }

            bool received;
            try
            {
                received = await connection.ReceiveAsync(fiber, timeout, idle && started is null, readable: readable);
                readable = false;
            }
            catch (FiberTimeoutException) when (started is { } begun && clock.GetElapsedTime(begun) >= headTimeout)
            {
                return (null, HeadEnd.TooSlow);
            }

            if (!received)
            {
                return (null, HeadEnd.Closed);
            }

            started ??= clock.GetTimestamp();
        }
    }
}
