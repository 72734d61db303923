using Replicator.Fibers;

namespace Replicator.Http;

/// <summary>
/// Reads one message body from a <see cref="BufferedConnection"/> by its framing, yielding the body's bytes (chunked
/// framing removed) a piece at a time. A body that ends before its framing says it should is an error, never a
/// short body: <see cref="IOException"/> with what was missing.
/// </summary>
internal sealed class BodyReader
{
    /// <summary>Receive buffer for bodies: large pieces mean fewer system calls per megabyte.</summary>
    private const int BodyBufferSize = 256 * 1024;

    private readonly BufferedConnection _connection;
    private readonly Framing _framing;
    private readonly ChunkedDecoder? _chunked;
    private long _remaining;

    public BodyReader(BufferedConnection connection, Framing framing)
    {
        _connection = connection;
        _framing = framing;
        _remaining = framing.Length;
        _chunked = framing.Kind == BodyKind.Chunked ? new ChunkedDecoder() : null;
        IsDone = framing.Kind == BodyKind.None || (framing.Kind == BodyKind.Length && framing.Length == 0);
    }

    public bool IsDone { get; private set; }

    /// <summary>Bytes of body read so far.</summary>
    public long Read { get; private set; }

    /// <summary>
    /// Calls <paramref name="sink"/> with the next piece of body (valid only during the call); false once the body has
    /// ended. The piece is consumed from the connection's buffer after the sink returns.
    /// </summary>
    public async ValueTask<bool> ReadAsync<TState>(Fiber fiber, TimeSpan timeout, Func<ReadOnlyMemory<byte>, TState, ValueTask> sink, TState state)
    {
        while (!IsDone)
        {
            if (_connection.BufferedCount == 0 && !await _connection.ReceiveAsync(fiber, timeout, bufferSize: BodyBufferSize))
            {
                if (_framing.Kind == BodyKind.UntilClose)
                {
                    IsDone = true;
                    return false;
                }

                throw new IOException(_framing.Kind == BodyKind.Length
                    ? $"connection closed with {_remaining} of {_framing.Length} body bytes missing"
                    : "connection closed inside a chunked body");
            }

            var buffered = _connection.Buffered;
            ReadOnlyMemory<byte> piece;
            int consumed;
            switch (_framing.Kind)
            {
                case BodyKind.Length:
                    consumed = (int)Math.Min(_remaining, buffered.Length);
                    piece = _connection.BufferedMemory[..consumed];
                    _remaining -= consumed;
                    IsDone = _remaining == 0;
                    break;
                case BodyKind.Chunked:
                    consumed = _chunked!.Decode(buffered, out var data);
                    piece = _connection.BufferedMemory[data];
                    IsDone = _chunked.IsDone;
                    break;
                default:
                    consumed = buffered.Length;
                    piece = _connection.BufferedMemory;
                    break;
            }

            Read += piece.Length;
            if (!piece.IsEmpty)
            {
                await sink(piece, state);
            }

            _connection.Consume(consumed);
            if (!piece.IsEmpty)
            {
                return true;
            }
        }

        return false;
    }
}
