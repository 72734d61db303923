namespace Replicator.Http;

/// <summary>
/// Decodes a chunked body incrementally (RFC 9112 section 7.1): feed it whatever bytes arrived; each call returns
/// how many it consumed and at most one run of body data inside them. Chunk extensions and trailer fields are read
/// and dropped. Malformed framing throws <see cref="HttpParseException"/> with the status given at construction.
/// </summary>
internal sealed class ChunkedDecoder
{
    private const int MaxSizeLine = 4096;

    private State _state = State.Size;
    private long _remaining;
    private int _lineLength;
    private bool _sawDigit;

    private enum State
    {
        Size,
        Extension,
        DataEnd,
        Data,
        Trailer,
        Done,
    }

    public bool IsDone => _state == State.Done;

    /// <summary>
    /// Consumes from <paramref name="input"/>; <paramref name="data"/> is the body data found (possibly empty),
    /// as a range of <paramref name="input"/>.
    /// </summary>
    public int Decode(ReadOnlySpan<byte> input, out Range data)
    {
        data = default;
        var i = 0;
        while (i < input.Length && _state != State.Done)
        {
            var b = input[i];
            switch (_state)
            {
                case State.Size:
                    if (char.IsAsciiHexDigit((char)b))
                    {
                        if (_remaining > (long.MaxValue >> 4))
                        {
                            Fail("chunk size too large");
                        }

                        _remaining = (_remaining << 4) | (long)(b <= '9' ? b - '0' : (b | 0x20) - 'a' + 10);
                        _sawDigit = true;
                    }
                    else if (_sawDigit && (b == ';' || b == '\r' || b == '\n' || b == ' ' || b == '\t'))
                    {
                        _state = State.Extension;
                        continue;
                    }
                    else
                    {
                        Fail("malformed chunk size");
                    }

                    i++;
                    Line();
                    break;
                case State.Extension:
                    i++;
                    Line();
                    if (b == '\n')
                    {
                        _lineLength = 0;
                        _sawDigit = false;
                        _state = _remaining == 0 ? State.Trailer : State.Data;
                    }

                    break;
                case State.Data:
                    var take = (int)Math.Min(_remaining, input.Length - i);
                    data = i..(i + take);
                    _remaining -= take;
                    i += take;
                    if (_remaining == 0)
                    {
                        _state = State.DataEnd;
                    }

                    return i;
                case State.DataEnd:
                    i++;
                    if (b == '\n')
                    {
                        _state = State.Size;
                    }
                    else if (b != '\r')
                    {
                        Fail("missing CRLF after chunk data");
                    }

                    break;
                case State.Trailer:
                    i++;
                    Line();
                    if (b == '\n')
                    {
                        // An empty line (just CRLF or LF) ends the trailer section and the body.
                        _state = _lineLength <= 2 ? State.Done : State.Trailer;
                        _lineLength = 0;
                    }

                    break;
            }
        }

        return i;
    }

    private void Line()
    {
        if (++_lineLength > MaxSizeLine)
        {
            Fail("chunk header or trailer line too long");
        }
    }

    private static void Fail(string reason) => HttpParseException.Reject(HttpFault.MalformedChunk, reason);
}
