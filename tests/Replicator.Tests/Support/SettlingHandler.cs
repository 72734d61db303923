namespace Replicator.Tests;

/// <summary>
/// The proxy commits a body into the tree just after its client has the last byte (issue 13), so a test that looks at
/// the tree after a response must wait for that commit. This handler makes every response body of the fixture's
/// clients end only once the proxy's commits have settled (bounded): reading a body to its end means it is stored.
/// Partial reads (streaming tests) are not held.
/// </summary>
internal sealed class SettlingHandler(HttpMessageHandler inner, Func<Task> settled) : DelegatingHandler(inner)
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var response = await base.SendAsync(request, cancellationToken);
        response.Content = new SettlingContent(response.Content, settled);
        return response;
    }

    private sealed class SettlingContent : HttpContent
    {
        private readonly HttpContent _inner;
        private readonly Func<Task> _settled;

        public SettlingContent(HttpContent inner, Func<Task> settled)
        {
            _inner = inner;
            _settled = settled;
            foreach (var (name, values) in inner.Headers)
            {
                Headers.TryAddWithoutValidation(name, values);
            }
        }

        protected override async Task SerializeToStreamAsync(Stream stream, System.Net.TransportContext? context)
        {
            await _inner.CopyToAsync(stream);
            await SettleAsync(_settled);
        }

        protected override async Task<Stream> CreateContentReadStreamAsync() => new SettlingStream(await _inner.ReadAsStreamAsync(), _settled);

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _inner.Dispose();
            }

            base.Dispose(disposing);
        }
    }

    private sealed class SettlingStream(Stream inner, Func<Task> settled) : Stream
    {
        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var read = await inner.ReadAsync(buffer, cancellationToken);
            if (read == 0 && buffer.Length > 0)
            {
                await SettleAsync(settled);
            }

            return read;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
            }

            base.Dispose(disposing);
        }
    }

    private static Task SettleAsync(Func<Task> settled) => settled().WaitAsync(TimeSpan.FromSeconds(30));
}
