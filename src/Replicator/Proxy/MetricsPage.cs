using System.Text;
using Replicator.Http;

namespace Replicator.Proxy;

/// <summary>
/// <c>GET /metrics</c> on the proxy's port (Prometheus' default path; issue 16, point 5): the proxy's figures in
/// Prometheus' text format, for the clients the proxy admits (--ip). See <see cref="ProxyMetrics"/>.
/// </summary>
internal static class MetricsPage
{
    public const string Path = "/metrics";

    public static async ValueTask<string> SendAsync(Exchange exchange)
    {
        var body = Encoding.UTF8.GetBytes(exchange.Server.Metrics.Prometheus());
        var headers = new HttpHeaders();
        headers.Add("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
        headers.Add("Cache-Control", "no-store");
        exchange.Respond(200);
        var head = HeadWriter.Response(200, "OK", headers, new Framing(BodyKind.Length, body.Length), exchange.KeepAlive);
        await exchange.SendAsync(exchange.Request.Method == "HEAD" ? head : [.. head, .. body]);
        return Outcomes.Hit;
    }
}
