using System.Net.Sockets;

namespace Replicator.Fibers;

/// <summary>
/// Why: a <see cref="Stream"/> is what layered protocols take (SslStream for TLS), but a fiber's socket waits must be
/// made by the fiber using the socket, on its loop. This stream does its reads and writes as
/// <see cref="FiberSocketExtensions"/> do, for the fiber its owner names before each use (<see cref="Use"/>): a
/// pooled connection serves one fiber after another, never two at once. Every continuation then runs on the loop,
/// so the layer above it needs no locks either.
/// </summary>
public sealed class FiberSocketStream(Socket socket) : Stream
{
    private Fiber? _fiber;
    private TimeSpan _timeout = System.Threading.Timeout.InfiniteTimeSpan;

    public Socket Socket { get; } = socket;

    public override bool CanRead => true;

    public override bool CanWrite => true;

    public override bool CanSeek => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    /// <summary>The fiber (on the socket's loop) whose reads and writes follow, each with this inactivity timeout.</summary>
    public void Use(Fiber fiber, TimeSpan timeout)
    {
        _fiber = fiber;
        _timeout = timeout;
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        Fiber.ReceiveAsync(Socket, buffer, _timeout);

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
        Fiber.SendAsync(Socket, buffer, _timeout);

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public override void Flush()
    {
    }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException("a fiber socket is read by its fiber, asynchronously");

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException("a fiber socket is written by its fiber, asynchronously");

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            Socket.Dispose();
        }

        base.Dispose(disposing);
    }

    private Fiber Fiber => _fiber ?? throw new InvalidOperationException("no fiber named for this socket's stream (Use)");
}
