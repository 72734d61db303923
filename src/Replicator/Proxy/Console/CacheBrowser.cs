using System.Net;
using System.Text;
using Replicator.Cache;
using Replicator.Cache.Upkeep;

namespace Replicator.Proxy.Console;

/// <summary>
/// The cache browser: the tree from the hosts down, a directory's entries with their total size, file count and last
/// use (from the usage database: one range of its key, not a walk of the disk), sorted and paged (100 a page), a
/// search by name within a host; a file's page with what is stored of it (size, Last-Modified, stored, last used,
/// hits, file class, freshness), its stored head, and the file itself, served from the cache, never from the origin.
/// Blocking (the database): run off the loop.
/// </summary>
internal static class CacheBrowser
{
    public const int PageSize = 100;

    private sealed record Entry(string Name, bool IsDirectory, long Files, long Bytes, long LastAccess, long Hits);

    public static string Directory(ProxyServer server, string path, IReadOnlyDictionary<string, string> query, IPAddress? client)
    {
        server.Usage.FlushAsync().Wait(TimeSpan.FromSeconds(10)); // what was served a moment ago counts already
        var prefix = path.Length == 0 || path.EndsWith('/') ? path : path + "/";
        using var database = UsageDatabase.Open(server.Store.Root, server.Clock, readOnly: true);
        var search = query.GetValueOrDefault("q");
        var html = ConsoleHtml.Page(prefix.Length == 0 ? "Cache" : prefix, query.GetValueOrDefault("message"));
        AppendBreadcrumbs(html, prefix);
        if (!string.IsNullOrEmpty(search) && prefix.Length > 0)
        {
            return AppendSearch(html, database, prefix, search, server);
        }

        var entries = Entries(database.ReadFilesBelow(prefix), prefix);
        var sort = query.GetValueOrDefault("sort") ?? "name";
        var ordered = sort switch
        {
            "size" => entries.OrderByDescending(entry => entry.Bytes),
            "used" => entries.OrderByDescending(entry => entry.LastAccess),
            _ => entries.OrderBy(entry => entry.Name, StringComparer.Ordinal),
        };
        var page = Math.Max(0, int.TryParse(query.GetValueOrDefault("page"), out var asked) ? asked : 0);
        var shown = ordered.Skip(page * PageSize).Take(PageSize).ToList();
        html.Append("<p>").Append(entries.Count).Append(" entries, ").Append(entries.Sum(entry => entry.Files)).Append(" files, ")
            .Append(ConsoleHtml.Bytes(entries.Sum(entry => entry.Bytes))).Append("</p>\n");
        if (prefix.Length > 0)
        {
            html.Append("<form method=\"get\"><input name=\"q\" placeholder=\"search this host by name\" aria-label=\"search\"> <button>Search</button></form>\n");
        }

        var self = ConsoleHtml.Prefix + "browse/" + ConsoleHtml.PathUrl(prefix);
        html.Append("<div class=\"wide\"><table id=\"entries\"><tr><th><a href=\"").Append(self).Append("?sort=name\">name</a></th><th class=\"n\"><a href=\"")
            .Append(self).Append("?sort=size\">size</a></th><th class=\"n\">files</th><th class=\"n\"><a href=\"").Append(self)
            .Append("?sort=used\">last used</a></th><th class=\"n\">hits</th></tr>\n");
        var now = server.Clock.GetUtcNow();
        foreach (var entry in shown)
        {
            var target = entry.IsDirectory ? $"{ConsoleHtml.Prefix}browse/{ConsoleHtml.PathUrl(prefix + entry.Name)}/" : $"{ConsoleHtml.Prefix}file/{ConsoleHtml.PathUrl(prefix + entry.Name)}";
            html.Append("<tr><td><a href=\"").Append(target).Append("\">").Append(ConsoleHtml.Encode(entry.Name)).Append(entry.IsDirectory ? "/" : string.Empty).Append("</a></td>")
                .Append("<td class=\"n\">").Append(ConsoleHtml.Bytes(entry.Bytes)).Append("</td><td class=\"n\">").Append(entry.Files).Append("</td>")
                .Append("<td class=\"n\">").Append(ConsoleHtml.Ago(DateTimeOffset.FromUnixTimeMilliseconds(entry.LastAccess), now)).Append("</td>")
                .Append("<td class=\"n\">").Append(entry.Hits).Append("</td></tr>\n");
        }

        html.Append("</table></div>\n");
        if (page > 0)
        {
            html.Append("<a href=\"").Append(self).Append("?sort=").Append(sort).Append("&page=").Append(page - 1).Append("\">previous</a> ");
        }

        if ((page + 1) * PageSize < entries.Count)
        {
            html.Append("<a href=\"").Append(self).Append("?sort=").Append(sort).Append("&page=").Append(page + 1).Append("\">next</a>");
        }

        if (prefix.Length > 0)
        {
            ConsoleActions.AppendPurge(html, server, client, prefix, $"Purge everything below {prefix}");
        }

        return ConsoleHtml.End(html);
    }

    public static string File(ProxyServer server, string path, IPAddress? client, string? message = null)
    {
        var html = ConsoleHtml.Page(path, message);
        AppendBreadcrumbs(html, path);
        if (server.Store.Lookup(path) is not { } entry)
        {
            html.Append("<p>Not in the cache.</p>\n");
            return ConsoleHtml.End(html);
        }

        server.Usage.FlushAsync().Wait(TimeSpan.FromSeconds(10));
        using var database = UsageDatabase.Open(server.Store.Root, server.Clock, readOnly: true);
        var usage = database.ReadFilesBelow(path).FirstOrDefault(record => record.Path == path);
        var stored = entry.Response;
        var now = server.Clock.GetUtcNow();
        var urlPath = path[(path.IndexOf('/') + 1)..];
        var fileClass = server.CacheOptions.Classes.Classify("/" + urlPath, null);
        html.Append("<div class=\"wide\"><table id=\"details\">")
            .Append(Row("size", ConsoleHtml.Bytes(entry.Length)))
            .Append(Row("URL", stored.Url ?? "(put there by hand)"))
            .Append(Row("Last-Modified", stored.Headers["Last-Modified"] ?? "–"))
            .Append(Row("stored", stored.Synthesized ? "–" : ConsoleHtml.Ago(stored.ResponseTime, now)))
            .Append(Row("last used", usage is null ? "never" : ConsoleHtml.Ago(DateTimeOffset.FromUnixTimeMilliseconds(usage.LastAccess), now)))
            .Append(Row("hits", (usage?.Hits ?? 0).ToString(System.Globalization.CultureInfo.InvariantCulture)))
            .Append(Row("class", FileClasses.Name(fileClass)))
            .Append(Row("freshness", Freshness(server, stored, fileClass, now)))
            .Append("</table></div>\n<p><a href=\"").Append(ConsoleHtml.Prefix).Append("headers/").Append(ConsoleHtml.PathUrl(path)).Append("\">stored head</a> · <a href=\"")
            .Append(ConsoleHtml.Prefix).Append("raw/").Append(ConsoleHtml.PathUrl(path)).Append("\">the file, from the cache</a></p>\n");
        ConsoleActions.AppendPurge(html, server, client, path, "Purge this file");
        ConsoleActions.AppendRevalidate(html, server, client, path);
        return ConsoleHtml.End(html);
    }

    /// <summary>The stored head of a file (its metadata, as kept under .replicator/meta/).</summary>
    public static async ValueTask<string> SendHeadersAsync(Exchange exchange, string path)
    {
        var entry = await exchange.Fiber.RunBlockingAsync(() => exchange.Server.Store.Lookup(path), Timeout.InfiniteTimeSpan)
            ?? throw new ProxyException(FailedStep.NoSuchPage, $"{path} is not in the cache");
        return await ConsolePages.SendTextAsync(exchange, Encoding.UTF8.GetString(entry.Response.Serialize()));
    }

    /// <summary>The file itself, from the tree with its stored head: never from the origin.</summary>
    public static async ValueTask<string> SendRawAsync(Exchange exchange, string path)
    {
        var entry = await exchange.Fiber.RunBlockingAsync(() => exchange.Server.Store.Lookup(path), Timeout.InfiniteTimeSpan)
            ?? throw new ProxyException(FailedStep.NoSuchPage, $"{path} is not in the cache");
        await Responder.ServeEntryAsync(exchange, entry, entry.Response);
        return Outcomes.Hit;
    }

    private static string Freshness(ProxyServer server, StoredResponse stored, FileClass fileClass, DateTimeOffset now)
    {
        if (fileClass == FileClass.Immutable)
        {
            return "a package file: served as it is, never asked again";
        }

        if (fileClass == FileClass.Volatile || stored.Invalidated)
        {
            return "must revalidate: asked again at every use";
        }

        var lifetime = stored.Lifetime ?? Cache.Freshness.HeuristicLifetime(stored, server.CacheOptions.HeuristicFor(fileClass));
        if (lifetime is not { } life)
        {
            return "no lifetime: revalidated at every use";
        }

        var left = life - Cache.Freshness.Age(stored, now);
        return left > TimeSpan.Zero ? $"fresh for {ConsoleHtml.Duration(left)}" : $"stale for {ConsoleHtml.Duration(-left)}: revalidated at the next use";
    }

    /// <summary>The entries one level below <paramref name="prefix"/>: a directory sums what is below it.</summary>
    private static List<Entry> Entries(IEnumerable<FileRecord> records, string prefix)
    {
        var entries = new Dictionary<string, Entry>(StringComparer.Ordinal);
        foreach (var record in records)
        {
            var rest = record.Path[prefix.Length..];
            var slash = rest.IndexOf('/');
            var name = slash < 0 ? rest : rest[..slash];
            var known = entries.GetValueOrDefault(name) ?? new Entry(name, slash >= 0, 0, 0, 0, 0);
            entries[name] = known with { Files = known.Files + 1, Bytes = known.Bytes + record.Size, LastAccess = Math.Max(known.LastAccess, record.LastAccess), Hits = known.Hits + record.Hits };
        }

        return [.. entries.Values];
    }

    private static string AppendSearch(StringBuilder html, UsageDatabase database, string prefix, string search, ProxyServer server)
    {
        var host = prefix[..(prefix.IndexOf('/') + 1)];
        var found = database.ReadFilesBelow(host).Where(record => record.Path[(record.Path.LastIndexOf('/') + 1)..].Contains(search, StringComparison.OrdinalIgnoreCase)).Take(200).ToList();
        html.Append("<p>").Append(found.Count).Append(found.Count == 200 ? "+" : string.Empty).Append(" files named like <b>").Append(ConsoleHtml.Encode(search)).Append("</b> in ")
            .Append(ConsoleHtml.Encode(host)).Append("</p>\n<div class=\"wide\"><table id=\"found\">");
        var now = server.Clock.GetUtcNow();
        foreach (var record in found)
        {
            html.Append("<tr><td><a href=\"").Append(ConsoleHtml.Prefix).Append("file/").Append(ConsoleHtml.PathUrl(record.Path)).Append("\">").Append(ConsoleHtml.Encode(record.Path)).Append("</a></td>")
                .Append("<td class=\"n\">").Append(ConsoleHtml.Bytes(record.Size)).Append("</td><td class=\"n\">").Append(ConsoleHtml.Ago(DateTimeOffset.FromUnixTimeMilliseconds(record.LastAccess), now)).Append("</td></tr>\n");
        }

        html.Append("</table></div>\n");
        return ConsoleHtml.End(html);
    }

    private static void AppendBreadcrumbs(StringBuilder html, string path)
    {
        html.Append("<p><a href=\"").Append(ConsoleHtml.Prefix).Append("browse/\">cache</a>");
        var walked = string.Empty;
        foreach (var part in path.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            walked += part + "/";
            html.Append(" / <a href=\"").Append(ConsoleHtml.Prefix).Append("browse/").Append(ConsoleHtml.PathUrl(walked)).Append("\">").Append(ConsoleHtml.Encode(part)).Append("</a>");
        }

        html.Append("</p>\n");
    }

    private static string Row(string name, string value) => $"<tr><th>{ConsoleHtml.Encode(name)}</th><td>{ConsoleHtml.Encode(value)}</td></tr>";
}
