namespace Replicator.Cache;

/// <summary>A Content-Type for a body found without metadata (copied into the tree by hand), by its extension.</summary>
internal static class ContentTypes
{
    private static readonly Dictionary<string, string> s_byExtension = new(StringComparer.OrdinalIgnoreCase)
    {
        [".html"] = "text/html",
        [".htm"] = "text/html",
        [".txt"] = "text/plain",
        [".css"] = "text/css",
        [".js"] = "text/javascript",
        [".json"] = "application/json",
        [".xml"] = "application/xml",
        [".png"] = "image/png",
        [".jpg"] = "image/jpeg",
        [".jpeg"] = "image/jpeg",
        [".gif"] = "image/gif",
        [".svg"] = "image/svg+xml",
        [".deb"] = "application/vnd.debian.binary-package",
        [".gz"] = "application/gzip",
        [".xz"] = "application/x-xz",
        [".bz2"] = "application/x-bzip2",
        [".zst"] = "application/zstd",
        [".tar"] = "application/x-tar",
        [".zip"] = "application/zip",
        [".pdf"] = "application/pdf",
    };

    public static string Guess(string path)
    {
        var name = Path.GetFileName(path);
        var query = name.IndexOf('?', StringComparison.Ordinal);
        var extension = Path.GetExtension(query < 0 ? name : name[..query]);
        return s_byExtension.GetValueOrDefault(extension, "application/octet-stream");
    }
}
