using System.Globalization;
using System.IO.Compression;

namespace Replicator.Cache.Packages;

/// <summary>One file an index vouches for: its path (relative to what the index names as its base), size and SHA256.</summary>
internal readonly record struct ListedFile(string Path, long Size, string Sha256);

/// <summary>
/// Reads the indexes of a Debian repository (https://wiki.debian.org/DebianRepository/Format): a Release or
/// InRelease lists the indexes of its suite (the SHA256 field: "hash size path", relative to the suite's directory);
/// a Packages index lists the packages (Filename, Size, SHA256 of each stanza, relative to the repository's root); a
/// Sources index the files of each source package (Directory and Checksums-Sha256). Compressed indexes are read as
/// apt reads them, by their extension (.gz, .xz, .bz2, .zst, .lz4). Only what verification needs is kept.
/// </summary>
internal static class DebianIndex
{
    private static readonly string[] s_compressions = [".gz", ".xz", ".bz2", ".zst", ".lz4"];

    /// <summary>What kind of index a file name is, or null for none (asked on package hits: no allocation).</summary>
    public static IndexKind? KindOf(ReadOnlySpan<char> name)
    {
        foreach (var extension in s_compressions)
        {
            if (name.EndsWith(extension, StringComparison.Ordinal))
            {
                name = name[..^extension.Length];
                break;
            }
        }

        return name switch
        {
            "InRelease" or "Release" => IndexKind.Release,
            "Packages" => IndexKind.Packages,
            "Sources" => IndexKind.Sources,
            _ => null,
        };
    }

    /// <summary>The last segment of a slash-separated path.</summary>
    public static ReadOnlySpan<char> NameOf(string path) => path.AsSpan(path.LastIndexOf('/') + 1);

    /// <summary>Opens <paramref name="body"/> decompressed as a file named <paramref name="name"/> is compressed.</summary>
    public static Stream Decompressed(Stream body, string name)
    {
        if (name.EndsWith(".gz", StringComparison.Ordinal))
        {
            return new GZipStream(body, CompressionMode.Decompress);
        }

        if (name.EndsWith(".xz", StringComparison.Ordinal))
        {
            return new SharpCompress.Compressors.Xz.XZStream(body);
        }

        if (name.EndsWith(".bz2", StringComparison.Ordinal))
        {
            return SharpCompress.Compressors.BZip2.BZip2Stream.Create(body, SharpCompress.Compressors.CompressionMode.Decompress, decompressConcatenated: true);
        }

        if (name.EndsWith(".zst", StringComparison.Ordinal))
        {
            return new SharpCompress.Compressors.ZStandard.DecompressionStream(body);
        }

        if (name.EndsWith(".lz4", StringComparison.Ordinal))
        {
            return K4os.Compression.LZ4.Streams.LZ4Stream.Decode(body);
        }

        return body;
    }

    /// <summary>The files an index lists, read from its text.</summary>
    public static IEnumerable<ListedFile> Read(IndexKind kind, TextReader text) => kind switch
    {
        IndexKind.Release => ReadRelease(text),
        IndexKind.Packages => ReadPackages(text),
        _ => ReadSources(text),
    };

    /// <summary>The SHA256 list of a Release or InRelease (the signature around an InRelease is skipped, not checked).</summary>
    public static IEnumerable<ListedFile> ReadRelease(TextReader text)
    {
        var inSha256 = false;
        foreach (var line in SignedContent(text))
        {
            if (line.Length > 0 && line[0] is ' ' or '\t')
            {
                if (inSha256 && TryChecksumLine(line, out var hash, out var size, out var path))
                {
                    yield return new ListedFile(path, size, hash);
                }

                continue;
            }

            inSha256 = line.StartsWith("SHA256:", StringComparison.Ordinal);
        }
    }

    /// <summary>The packages of a Packages index: Filename, Size and SHA256 of each stanza that has all three.</summary>
    public static IEnumerable<ListedFile> ReadPackages(TextReader text)
    {
        string? filename = null, sha256 = null;
        long size = -1;
        foreach (var line in Lines(text).Append(string.Empty))
        {
            if (line.Length == 0)
            {
                if (filename is not null && sha256 is not null && size >= 0)
                {
                    yield return new ListedFile(filename, size, sha256);
                }

                (filename, sha256, size) = (null, null, -1);
            }
            else if (Field(line, "Filename") is { } name)
            {
                filename = name;
            }
            else if (Field(line, "Size") is { } sizeText)
            {
                size = long.TryParse(sizeText, NumberStyles.None, CultureInfo.InvariantCulture, out var parsed) ? parsed : -1;
            }
            else if (Field(line, "SHA256") is { } hash)
            {
                sha256 = hash.ToLowerInvariant();
            }
        }
    }

    /// <summary>The files of each stanza of a Sources index: Directory joined with each Checksums-Sha256 line.</summary>
    public static IEnumerable<ListedFile> ReadSources(TextReader text)
    {
        string? directory = null;
        var files = new List<(string Hash, long Size, string Name)>();
        var inChecksums = false;
        foreach (var line in Lines(text).Append(string.Empty))
        {
            if (line.Length == 0)
            {
                if (directory is not null)
                {
                    foreach (var (hash, size, name) in files)
                    {
                        yield return new ListedFile(directory.TrimEnd('/') + "/" + name, size, hash);
                    }
                }

                (directory, inChecksums) = (null, false);
                files.Clear();
            }
            else if (line[0] is ' ' or '\t')
            {
                if (inChecksums && TryChecksumLine(line, out var hash, out var size, out var name))
                {
                    files.Add((hash, size, name));
                }
            }
            else
            {
                inChecksums = line.StartsWith("Checksums-Sha256:", StringComparison.Ordinal);
                if (Field(line, "Directory") is { } value)
                {
                    directory = value;
                }
            }
        }
    }

    /// <summary>
    /// Every stanza of a Packages or Sources index as its fields (name to value, continuation lines joined with
    /// newlines): what the mirror needs to resolve dependencies (Package, Version, Depends, Pre-Depends, Provides...).
    /// </summary>
    public static IEnumerable<IReadOnlyDictionary<string, string>> ReadStanzas(TextReader text)
    {
        var fields = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        string? last = null;
        foreach (var line in Lines(text).Append(string.Empty))
        {
            if (line.Length == 0)
            {
                if (fields.Count > 0)
                {
                    yield return fields;
                    fields = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
                }

                last = null;
            }
            else if (line[0] is ' ' or '\t')
            {
                if (last is not null)
                {
                    fields[last] += "\n" + line.Trim();
                }
            }
            else if (line.IndexOf(':') is > 0 and var colon)
            {
                last = line[..colon];
                fields[last] = line[(colon + 1)..].Trim();
            }
        }
    }

    /// <summary>" hash size path": false for anything else (a malformed line is skipped, never trusted).</summary>
    private static bool TryChecksumLine(string line, out string hash, out long size, out string path)
    {
        var parts = line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
        hash = parts.Length == 3 ? parts[0].ToLowerInvariant() : string.Empty;
        path = parts.Length == 3 ? parts[2] : string.Empty;
        size = -1;
        return parts.Length == 3 && hash.Length == 64 && hash.All(char.IsAsciiHexDigit)
            && long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out size) && !path.Contains("..", StringComparison.Ordinal);
    }

    private static string? Field(string line, string name) =>
        line.Length > name.Length && line.StartsWith(name, StringComparison.Ordinal) && line[name.Length] == ':' ? line[(name.Length + 1)..].Trim() : null;

    /// <summary>The lines of a clear-signed message's content (RFC 4880 section 7), or of an unsigned text.</summary>
    private static IEnumerable<string> SignedContent(TextReader text)
    {
        var signed = false;
        var inArmorHeaders = false;
        foreach (var line in Lines(text))
        {
            if (line == "-----BEGIN PGP SIGNED MESSAGE-----")
            {
                (signed, inArmorHeaders) = (true, true);
                continue;
            }

            if (inArmorHeaders)
            {
                inArmorHeaders = line.Length > 0;
                continue;
            }

            if (signed && line == "-----BEGIN PGP SIGNATURE-----")
            {
                yield break;
            }

            yield return signed && line.StartsWith("- ", StringComparison.Ordinal) ? line[2..] : line;
        }
    }

    private static IEnumerable<string> Lines(TextReader text)
    {
        while (text.ReadLine() is { } line)
        {
            yield return line;
        }
    }
}

/// <summary>The kinds of Debian index that list files to verify.</summary>
internal enum IndexKind
{
    Release,
    Packages,
    Sources,
}
