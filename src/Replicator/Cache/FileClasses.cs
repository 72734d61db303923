using System.Runtime.CompilerServices;
using DotNet.Globbing;

namespace Replicator.Cache;

/// <summary>What a cached path is, for the freshness rules (docs/user-guide.md, "File classes").</summary>
internal enum FileClass
{
    /// <summary>RFC 9111 decides, heuristics included.</summary>
    Other,

    /// <summary>Never changes under its name (a package, a by-hash file): served from the tree without asking.</summary>
    Immutable,

    /// <summary>An index that changes under its name (InRelease, Packages...): always revalidated, never heuristically fresh.</summary>
    Volatile,
}

/// <summary>
/// Why: a package repository says nothing of its files' lifetimes (Debian's mirrors send no Last-Modified, no ETag,
/// no Cache-Control), yet its packages never change under their names and its indexes change all the time. Package
/// caches (apt-cacher-ng, approx) know this by name; so does this table: globs on the URL's path, the user's own
/// (--volatile, then --immutable) before the built-in ones, first match wins. A URL with a query is never classed.
/// </summary>
internal sealed class FileClasses
{
    // First: the static fields below are initialised in order, and BuiltIn parses globs with these options.
    private static readonly GlobOptions s_options = new() { Evaluation = { CaseInsensitive = false } };

    /// <summary>Package files and checksum-named files of Debian/Ubuntu, RPM, Alpine, Arch and PyPI repositories.</summary>
    public static readonly string[] BuiltInImmutable =
    [
        "**/by-hash/*/*",
        "**/pool/**/*.deb", "**/pool/**/*.udeb", "**/pool/**/*.ddeb", "**/pool/**/*.dsc", "**/pool/**/*.tar.*",
        "**/pool/**/*.diff.gz", "**/pool/**/*.buildinfo", "**/pool/**/*.changes",
        "**/*.rpm", "**/repodata/[0123456789abcdef][0123456789abcdef][0123456789abcdef][0123456789abcdef][0123456789abcdef][0123456789abcdef][0123456789abcdef][0123456789abcdef]*-*",
        "**/*.apk",
        "**/*.pkg.tar.*",
        "/packages/**",
    ];

    /// <summary>Repository indexes of the same families: they change under their names.</summary>
    public static readonly string[] BuiltInVolatile =
    [
        "**/InRelease", "**/Release", "**/Release.gpg", "**/Packages", "**/Packages.*", "**/Sources", "**/Sources.*",
        "**/Contents-*", "**/Translation-*", "**/*.diff/Index",
        "**/repomd.xml", "**/repomd.xml.asc",
        "**/APKINDEX.tar.gz",
        "**/*.db", "**/*.db.sig", "**/*.files", "**/*.files.sig",
    ];

    /// <summary>The built-in table alone.</summary>
    public static FileClasses BuiltIn { get; } = new([], []);

    private readonly (Glob Glob, FileClass Class)[] _rules;

    /// <summary>Each class boxed once, for the memo below.</summary>
    private static readonly object[] s_boxed = [.. Enum.GetValues<FileClass>().Cast<object>()];

    /// <summary>Classes memoised per stored response: a hit asks its entry's class without matching a glob.</summary>
    private readonly ConditionalWeakTable<StoredResponse, object> _ofStored = new();

    public FileClasses(IEnumerable<string> immutable, IEnumerable<string> @volatile)
    {
        _rules =
        [
            .. @volatile.Select(pattern => (Parse(pattern), FileClass.Volatile)),
            .. immutable.Select(pattern => (Parse(pattern), FileClass.Immutable)),
            .. BuiltInImmutable.Select(pattern => (Parse(pattern), FileClass.Immutable)),
            .. BuiltInVolatile.Select(pattern => (Parse(pattern), FileClass.Volatile)),
        ];
    }

    /// <summary>Checks a glob given on the command line; throws <see cref="FormatException"/> with the reason.</summary>
    public static string Validate(string pattern)
    {
        if (pattern.Length == 0 || pattern.Any(char.IsControl))
        {
            throw new FormatException($"'{pattern}' is not a path glob (such as **/pool/**/*.deb)");
        }

        try
        {
            Parse(pattern);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new FormatException($"'{pattern}' is not a path glob: {e.Message}");
        }

        return pattern;
    }

    /// <summary>The class of a URL path (from '/', without the query); null query: none.</summary>
    public FileClass Classify(string path, string? query = null)
    {
        if (!string.IsNullOrEmpty(query))
        {
            return FileClass.Other;
        }

        foreach (var (glob, fileClass) in _rules)
        {
            if (glob.IsMatch(path))
            {
                return fileClass;
            }
        }

        return FileClass.Other;
    }

    /// <summary>The class of a stored response's URL, computed once per stored response (no allocation on a hit).</summary>
    public FileClass Of(StoredResponse stored, string path, string? query)
    {
        if (_ofStored.TryGetValue(stored, out var known))
        {
            return (FileClass)known;
        }

        var fileClass = Classify(path, query);
        _ofStored.AddOrUpdate(stored, s_boxed[(int)fileClass]);
        return fileClass;
    }

    private static Glob Parse(string pattern) => Glob.Parse(pattern, s_options);

    /// <summary>The name the access log and the status page give a class.</summary>
    public static string Name(FileClass fileClass) => fileClass switch
    {
        FileClass.Immutable => "immutable",
        FileClass.Volatile => "volatile",
        _ => "other",
    };
}
