using System.Buffers;
using Microsoft.Win32.SafeHandles;
using Replicator.Http;

namespace Replicator.Proxy;

/// <summary>
/// Why the process can be its own proxy's client without a socket (issue 15): `replicator mirror` asks its embedded
/// proxy for everything it fetches, and going through a loopback connection cost each small file two HTTP messages
/// written and parsed, two sockets' system calls and several thread hand-offs, more than the download itself. An
/// <see cref="Exchange"/> made with one of these runs exactly the code a client's request does (the cache's decisions,
/// the shared downloads, the store); only the bytes it would send go here instead, read as a client reads them: the
/// head, then the body, counted, and kept only when asked (a listing, an index: a file the proxy stores needs no copy
/// here), but for the first line of an error's, its reason.
/// The request is HTTP/1.0, so a body is never chunked: what follows the head is the body.
/// </summary>
internal sealed class InProcessResponse(bool keepBody = false, Action<long?>? onLength = null, Action<long>? onBody = null)
{
    /// <summary>Enough of an error body for its first line (the proxy's own errors are one line).</summary>
    private const int ReasonBytes = 400;

    private byte[] _pending = [];
    private readonly byte[] _errorBody = new byte[ReasonBytes];
    private int _errorBytes;
    private readonly ArrayBufferWriter<byte>? _kept = keepBody ? new() : null;

    /// <summary>
    /// Cancelled when the asker stops waiting (the mirror interrupted): the exchange then ends as one whose client hung
    /// up, and its download goes on only if it is worth finishing, as for any client that leaves.
    /// </summary>
    public CancellationToken Abandoned { get; init; }

    /// <summary>The response's head; null until it was sent whole.</summary>
    public ResponseHead? Head { get; private set; }

    /// <summary>The body's length as the head announces it (Content-Length, a HEAD's too); null when not said.</summary>
    public long? Length { get; private set; }

    /// <summary>Bytes of the body so far.</summary>
    public long BodyBytes { get; private set; }

    /// <summary>The body, when it was asked to be kept; else null.</summary>
    public byte[]? Body => _kept?.WrittenSpan.ToArray();

    /// <summary>The first line of a body that is not a 200's, if it has one under 400 bytes: what the answer says went wrong.</summary>
    public string? ErrorLine
    {
        get
        {
            var line = System.Text.Encoding.UTF8.GetString(_errorBody, 0, _errorBytes).Split('\n')[0].Trim();
            return line.Length is > 0 and < ReasonBytes ? line : null;
        }
    }

    /// <summary>Bytes the proxy sends: the head (in one or more pieces), then the body.</summary>
    public void Take(ReadOnlySpan<byte> data)
    {
        if (Head is null)
        {
            var buffered = _pending.Length == 0 ? data : Joined(_pending, data);
            if (!HeadParser.TryParseResponse(buffered, out var head, out var consumed))
            {
                _pending = buffered.ToArray();
                return;
            }

            _pending = [];
            Head = head;
            Length = head.BodyFraming("GET") is { Kind: BodyKind.Length } framing ? framing.Length : null;
            onLength?.Invoke(Length);
            data = buffered[consumed..];
        }

        if (Head.Status != 200 && _errorBytes < ReasonBytes)
        {
            var kept = data[..Math.Min(data.Length, ReasonBytes - _errorBytes)];
            kept.CopyTo(_errorBody.AsSpan(_errorBytes));
            _errorBytes += kept.Length;
        }

        _kept?.Write(data);
        CountBody(data.Length);
    }

    /// <summary>
    /// Body bytes the proxy would send from a file (sendfile): counted, and read only when the body is kept (a
    /// listing or an index already in the tree).
    /// </summary>
    public void TakeFromFile(SafeFileHandle file, long offset, long count)
    {
        if (_kept is { } kept)
        {
            for (var end = offset + count; offset < end;)
            {
                var piece = (int)Math.Min(end - offset, 1 << 20);
                var read = RandomAccess.Read(file, kept.GetSpan(piece)[..piece], offset);
                if (read == 0)
                {
                    throw new IOException($"the file ended {end - offset} bytes early");
                }

                kept.Advance(read);
                offset += read;
            }
        }

        CountBody(count);
    }

    private static byte[] Joined(byte[] first, ReadOnlySpan<byte> second)
    {
        var joined = new byte[first.Length + second.Length];
        first.CopyTo(joined, 0);
        second.CopyTo(joined.AsSpan(first.Length));
        return joined;
    }

    private void CountBody(long count)
    {
        if (count > 0)
        {
            BodyBytes += count;
            onBody?.Invoke(count);
        }
    }
}
