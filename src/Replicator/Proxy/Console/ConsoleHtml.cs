using System.Globalization;
using System.Net;
using System.Text;
using Replicator.Cache.Upkeep;

namespace Replicator.Proxy.Console;

/// <summary>
/// The console's page shell and formatting: one small stylesheet inline (the console works on a LAN with no
/// internet: nothing is fetched from anywhere else), readable on a phone (a viewport, tables that scroll).
/// </summary>
internal static class ConsoleHtml
{
    public const string Prefix = MirrorRoutes.OwnPrefix;

    private const string Style = """
        body{font-family:system-ui,sans-serif;margin:0 auto;max-width:72rem;padding:0 1rem;color:#1b1f24;background:#fafafa}
        header{display:flex;gap:1.5rem;align-items:baseline;flex-wrap:wrap;border-bottom:1px solid #ccd;padding:.6rem 0}
        header a{text-decoration:none} h1{font-size:1.3rem;margin:0} h2{font-size:1.05rem;margin-top:1.6rem}
        .wide{overflow-x:auto} table{border-collapse:collapse;width:100%;font-size:.92rem}
        th,td{text-align:left;padding:.25rem .5rem;border-bottom:1px solid #e3e6ea;white-space:nowrap}
        td.n,th.n{text-align:right} .bar{background:#dde7f5;height:.6rem;display:inline-block}
        .muted{color:#667} form.inline{display:inline} button{cursor:pointer}
        .tiles{display:flex;flex-wrap:wrap;gap:.8rem} .tile{background:#fff;border:1px solid #e3e6ea;border-radius:.4rem;padding:.5rem .8rem}
        .tile b{display:block;font-size:1.3rem} code{font-size:.9em}
        """;

    /// <summary>The page's start, with the message an action left (after its redirect), if any.</summary>
    public static StringBuilder Page(string title, string? message = null)
    {
        var html = new StringBuilder();
        html.Append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">")
            .Append("<title>").Append(Encode(title)).Append(" · Replicator</title><style>").Append(Style).Append("</style></head><body>\n")
            .Append("<header><h1>Replicator</h1>")
            .Append("<a href=\"").Append(Prefix).Append("\">Dashboard</a>")
            .Append("<a href=\"").Append(Prefix).Append("browse/\">Cache</a>")
            .Append("<a href=\"/metrics\">Metrics</a></header>\n");
        if (!string.IsNullOrEmpty(message))
        {
            html.Append("<p id=\"message\"><b>").Append(Encode(message)).Append("</b></p>\n");
        }

        return html;
    }

    public static string End(StringBuilder html) => html.Append("</body></html>\n").ToString();

    public static string Encode(string? text) => WebUtility.HtmlEncode(text ?? string.Empty);

    /// <summary>A cache path as it goes in a console URL: each component escaped.</summary>
    public static string PathUrl(string relativePath) => string.Join('/', relativePath.Split('/').Select(Uri.EscapeDataString));

    public static string Bytes(long bytes) => ByteSize.Format(bytes);

    public static string Ratio(long part, long whole) => whole == 0 ? "–" : ((double)part / whole).ToString("P1", CultureInfo.InvariantCulture);

    public static string Ago(DateTimeOffset? then, DateTimeOffset now)
    {
        if (then is not { } time)
        {
            return "never";
        }

        var span = now - time;
        return span.TotalSeconds < 90 ? $"{Math.Max(0, (int)span.TotalSeconds)} s ago"
            : span.TotalMinutes < 90 ? $"{(int)span.TotalMinutes} min ago"
            : span.TotalHours < 36 ? $"{(int)span.TotalHours} h ago"
            : $"{(int)span.TotalDays} days ago";
    }

    public static string Duration(TimeSpan span) =>
        span.TotalSeconds < 90 ? $"{(int)span.TotalSeconds} s" : span.TotalMinutes < 90 ? $"{(int)span.TotalMinutes} min" : span.TotalHours < 36 ? $"{(int)span.TotalHours} h" : $"{(int)span.TotalDays} days";
}
