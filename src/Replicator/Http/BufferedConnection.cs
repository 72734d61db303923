using System.Buffers;
using System.Net.Security;
using System.Net.Sockets;
using Replicator.Fibers;

namespace Replicator.Http;

/// <summary>
/// A socket with a receive buffer, for a fiber that parses what arrives. The buffer is rented only while it holds
/// bytes and given back when drained, so an idle connection holds no buffer at all. A connection to an https origin
/// reads and writes through TLS (<see cref="StartTlsAsync"/>) over the same fiber socket.
/// </summary>
internal sealed class BufferedConnection : IDisposable
{
    private const int InitialSize = 16 * 1024;

    private byte[]? _buffer;
    private int _start;
    private int _end;

    public BufferedConnection(Socket socket)
    {
        Socket = socket;
    }

    public Socket Socket { get; }

    private SslStream? _tls;
    private FiberSocketStream? _transport;

    /// <summary>True once TLS runs over the socket: its bytes are then never read or written around it.</summary>
    public bool IsTls => _tls is not null;

    /// <summary>
    /// Runs TLS as a client over the socket (an https origin): the server's certificate is checked for
    /// <paramref name="host"/> against the system's authorities, or those <paramref name="validate"/> adds.
    /// </summary>
    public async ValueTask StartTlsAsync(Fiber fiber, string host, TimeSpan timeout, RemoteCertificateValidationCallback? validate)
    {
        _transport = new FiberSocketStream(Socket);
        _transport.Use(fiber, timeout);
        _tls = new SslStream(_transport, leaveInnerStreamOpen: false);
        await _tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = host.Trim('[', ']'),
            RemoteCertificateValidationCallback = validate,
            CertificateRevocationCheckMode = System.Security.Cryptography.X509Certificates.X509RevocationMode.NoCheck,
        });
    }

    public ReadOnlySpan<byte> Buffered => _buffer is null ? default : _buffer.AsSpan(_start, _end - _start);

    public ReadOnlyMemory<byte> BufferedMemory => _buffer is null ? default : _buffer.AsMemory(_start, _end - _start);

    public int BufferedCount => _end - _start;

    /// <summary>
    /// Receives more bytes after those buffered; false at end of stream. With <paramref name="idle"/> the wait is
    /// interrupted at once when the engine stops (a connection between requests), and no buffer is held during it.
    /// </summary>
    /// <param name="bufferSize">The buffer to rent when none is held: larger for bodies, so they move in fewer, larger pieces.</param>
    /// <param name="readable">The caller has just waited for the socket to be readable: no wait before renting the buffer.</param>
    public async ValueTask<bool> ReceiveAsync(Fiber fiber, TimeSpan timeout, bool idle = false, int maxBuffered = HeadParser.MaxHead + 1, int bufferSize = InitialSize, bool readable = false)
    {
        if (_buffer is null)
        {
            // Through TLS, bytes may wait decrypted inside the SslStream while the socket has none: no readiness wait.
            if (_tls is null && !readable)
            {
                await fiber.ReadableAsync(Socket, timeout, interruptOnStop: idle);
            }

            _buffer = ArrayPool<byte>.Shared.Rent(bufferSize);
        }
        else if (_end == _buffer.Length)
        {
            if (_start > 0)
            {
                Buffered.CopyTo(_buffer);
                _end -= _start;
                _start = 0;
            }
            else
            {
                var larger = ArrayPool<byte>.Shared.Rent(Math.Min(_buffer.Length * 2, Math.Max(maxBuffered, InitialSize)));
                _buffer.AsSpan(0, _end).CopyTo(larger);
                ArrayPool<byte>.Shared.Return(_buffer);
                _buffer = larger;
            }
        }

        if (_end == _buffer.Length)
        {
            return true; // full at the limit: the parser will refuse what it holds
        }

        int received;
        if (_tls is not null)
        {
            _transport!.Use(fiber, timeout);
            received = await _tls.ReadAsync(_buffer.AsMemory(_end));
        }
        else
        {
            received = await fiber.ReceiveAsync(Socket, _buffer.AsMemory(_end), timeout, interruptOnStop: idle && _end == _start);
        }

        _end += received;
        if (received == 0)
        {
            ReleaseIfEmpty();
        }

        return received > 0;
    }

    public void Consume(int count)
    {
        _start += count;
        ReleaseIfEmpty();
    }

    public ValueTask SendAsync(Fiber fiber, ReadOnlyMemory<byte> data, TimeSpan timeout)
    {
        if (_tls is null)
        {
            return fiber.SendAsync(Socket, data, timeout);
        }

        _transport!.Use(fiber, timeout);
        return _tls.WriteAsync(data);
    }

    public void Dispose()
    {
        _start = _end;
        ReleaseIfEmpty();
        _tls?.Dispose();
        Socket.Dispose();
    }

    private void ReleaseIfEmpty()
    {
        if (_start == _end && _buffer is not null)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = null;
            _start = _end = 0;
        }
    }
}
