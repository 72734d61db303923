using System.Text;

namespace Replicator.Proxy;

/// <summary>
/// <c>GET /metrics</c> on the proxy's port (Prometheus' default path; issue 16, point 5): the proxy's figures in
/// Prometheus' text format, for the clients the proxy admits (--ip). See <see cref="ProxyMetrics"/>.
/// </summary>
internal static class MetricsPage
{
    public const string Path = "/metrics";

    public static ValueTask<string> SendAsync(Exchange exchange) =>
        Console.ConsolePages.SendBodyAsync(exchange, 200, "text/plain; version=0.0.4; charset=utf-8", Encoding.UTF8.GetBytes(exchange.Server.Metrics.Prometheus()));
}
