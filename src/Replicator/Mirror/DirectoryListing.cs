using AngleSharp.Html.Parser;

namespace Replicator.Mirror;

/// <summary>
/// The entries of a server's directory listing (the index pages of nginx, Apache, lighttpd, Caddy, Python's
/// http.server...): every link of the page, parsed as HTML (AngleSharp), kept when it leads below the listed
/// directory: one level down, a file or a subdirectory (its name ends with '/'). Sorting links (Apache's ?C=N;O=D),
/// the parent directory, absolute links elsewhere and fragments are dropped.
/// </summary>
internal static class DirectoryListing
{
    private static readonly HtmlParser s_parser = new();

    public static IReadOnlyList<Uri> Entries(string html, Uri directory)
    {
        var document = s_parser.ParseDocument(html);
        var entries = new List<Uri>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var link in document.QuerySelectorAll("a[href]"))
        {
            var href = link.GetAttribute("href")!.Trim();
            if (href.Length == 0 || href.StartsWith('#') || href.StartsWith('?')
                || !Uri.TryCreate(directory, href, out var target) || !string.IsNullOrEmpty(target.Query)
                || target.Scheme != directory.Scheme || !string.Equals(target.Authority, directory.Authority, StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            var path = target.AbsolutePath;
            if (!path.StartsWith(directory.AbsolutePath, StringComparison.Ordinal) || path.Length == directory.AbsolutePath.Length)
            {
                continue; // the parent, the directory itself, or elsewhere on the server
            }

            // One level down only (a listing that links deeper is followed through the subdirectory's own listing).
            var name = path[directory.AbsolutePath.Length..];
            var slash = name.IndexOf('/');
            if (slash >= 0 && slash != name.Length - 1)
            {
                continue;
            }

            var clean = new UriBuilder(target) { Fragment = string.Empty }.Uri;
            if (seen.Add(clean.AbsoluteUri))
            {
                entries.Add(clean);
            }
        }

        return entries;
    }
}
