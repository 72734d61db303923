using System.Globalization;
using System.Text;
using Replicator.Http;

namespace Replicator.Proxy;

/// <summary>
/// The heads the proxy writes: what it forwards (RFC 9110 section 7.6: hop-by-hop fields (Connection and the fields
/// it names, Keep-Alive, Proxy-Connection, TE, Trailer, Transfer-Encoding, Upgrade, Proxy-Authorization,
/// Proxy-Authenticate) end at the proxy; Via gains the proxy; the upstream Host keeps a non-default port), its
/// responses to clients, its one-line error answers, and the -vv log of every head.
/// </summary>
internal static class ProxyHeads
{
    public const string ViaName = "replicator";

    private static readonly string s_via11 = $"1.1 {ViaName}";
    private static readonly string s_via10 = $"1.0 {ViaName}";

    /// <summary>-vv: every line of a head, as the original printed them ("Client sends", "Server responds").</summary>
    public static void LogHead(string who, string startLine, HttpHeaders headers)
    {
        if (!Serilog.Log.IsEnabled(Serilog.Events.LogEventLevel.Verbose))
        {
            return;
        }

        Serilog.Log.Verbose("{Who:l} {Line:l}", who, startLine);
        foreach (var (name, value) in headers.Fields)
        {
            Serilog.Log.Verbose("  {Name:l}: {Value:l}", name, value);
        }
    }

    public static void AddVia(HttpHeaders headers, Version version)
    {
        var hop = ViaHop(version);
        var existing = headers["Via"];
        headers.Set("Via", existing is null ? hop : $"{existing}, {hop}");
    }

    /// <summary>
    /// The head of a request to the origin: in origin-form, or in absolute form with the parent's credentials when it
    /// goes through a parent proxy.
    /// </summary>
    public static byte[] UpstreamRequest(string method, RequestUrl url, HttpHeaders endToEnd, Framing body, ParentProxy? parent = null)
    {
        // The URL decides the Host; whatever Host the client sent goes no further.
        endToEnd.Remove("Host");
        var fields = new HttpHeaders();
        fields.Add("Host", url.Authority);
        if (parent?.Authorization is { } authorization)
        {
            fields.Add("Proxy-Authorization", authorization);
        }

        foreach (var (name, value) in endToEnd.Fields)
        {
            fields.Add(name, value);
        }

        return HeadWriter.Request(method, parent is null ? url.PathAndQuery : url.ToString(), fields, body);
    }

    /// <summary>Our entry in a Via field for a message of <paramref name="version"/> ("1.1 replicator").</summary>
    public static string ViaHop(Version version) =>
        version.Major == 1 && version.Minor == 1 ? s_via11 : version.Major == 1 && version.Minor == 0 ? s_via10 : $"{version.Major}.{version.Minor} {ViaName}";

    /// <summary>A complete error response: a one-line plain-text reason, never a stack trace.</summary>
    public static byte[] Error(int status, string reason, bool keepAlive)
    {
        var body = reason + "\n";
        var headers = new HttpHeaders();
        headers.Add("Content-Type", "text/plain; charset=utf-8");
        headers.Add("Cache-Control", "no-store");
        var head = HeadWriter.Response(status, HeadWriter.ReasonPhrase(status), headers, new Framing(BodyKind.Length, Encoding.UTF8.GetByteCount(body)), keepAlive);
        return [.. head, .. Encoding.UTF8.GetBytes(body)];
    }
}
