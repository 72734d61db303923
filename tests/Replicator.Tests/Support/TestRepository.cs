using System.Diagnostics;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;

namespace Replicator.Tests;

/// <summary>
/// A small Debian repository made by the tests (dists/stable/main/binary-amd64 and a pool), served by a
/// <see cref="TestOrigin"/> without validators, as the mirrors this machine reaches serve theirs: an unsigned
/// Release (and the same text as InRelease), Packages plain, .gz and .xz, their by-hash copies, and package files of
/// pseudo-random bytes (apt-get download checks hashes, not contents).
/// </summary>
internal sealed class TestRepository
{
    public const string Suite = "stable";

    private readonly string _base;

    /// <param name="fields">Extra fields of package i's stanza ("Depends: pkg1\n"), for dependency tests.</param>
    /// <param name="sources">Also a Sources index, listing one .dsc per package (named after it).</param>
    public TestRepository(string basePath, int packages, int size = 4096, int generation = 1, Func<int, string>? fields = null, bool sources = false)
    {
        _base = basePath;
        Generation = generation;
        for (var i = 0; i < packages; i++)
        {
            var name = $"pkg{i}";
            var body = new byte[size + i];
            new Random(i * 7919 + generation).NextBytes(body);
            Packages.Add(new Package(name, $"1.{generation}", $"pool/main/p/{name}/{name}_1.{generation}_all.deb", body));
        }

        PackagesText = string.Concat(Packages.Select((package, i) =>
            $"Package: {package.Name}\nVersion: {package.Version}\nArchitecture: all\nMaintainer: Tests <tests@example.org>\n"
            + $"Installed-Size: 1\nFilename: {package.Filename}\nSize: {package.Body.Length}\nSHA256: {Sha256(package.Body)}\n"
            + (fields?.Invoke(i) ?? string.Empty)
            + $"Description: test package {package.Name}\n\n"));
        var plain = Encoding.UTF8.GetBytes(PackagesText);
        Indexes["main/binary-amd64/Packages"] = plain;
        Indexes["main/binary-amd64/Packages.gz"] = Gzip(plain);
        Indexes["main/binary-amd64/Packages.xz"] = Xz(plain);
        if (sources)
        {
            var text = new StringBuilder();
            foreach (var package in Packages)
            {
                var directory = package.Filename[..package.Filename.LastIndexOf('/')];
                var dsc = Encoding.UTF8.GetBytes($"Source: {package.Name}\nVersion: {package.Version}\n");
                SourceFiles[$"{directory}/{package.Name}_{package.Version}.dsc"] = dsc;
                text.Append($"Package: {package.Name}\nVersion: {package.Version}\nDirectory: {directory}\nChecksums-Sha256:\n {Sha256(dsc)} {dsc.Length} {package.Name}_{package.Version}.dsc\n\n");
            }

            Indexes["main/source/Sources"] = Encoding.UTF8.GetBytes(text.ToString());
        }

        var release = new StringBuilder($"Origin: Tests\nLabel: Tests\nSuite: {Suite}\nCodename: {Suite}\nDate: Tue, 01 Dec 2026 0{generation}:00:00 UTC\nArchitectures: amd64\nComponents: main\nAcquire-By-Hash: yes\nSHA256:\n");
        foreach (var (path, bytes) in Indexes)
        {
            release.Append($" {Sha256(bytes)} {bytes.Length,8} {path}\n");
        }

        Release = Encoding.UTF8.GetBytes(release.ToString());
    }

    public sealed record Package(string Name, string Version, string Filename, byte[] Body);

    public int Generation { get; }

    public List<Package> Packages { get; } = [];

    public string PackagesText { get; }

    /// <summary>The indexes below dists/stable/, by path.</summary>
    public SortedDictionary<string, byte[]> Indexes { get; } = new(StringComparer.Ordinal);

    /// <summary>The source package files (path below the base, bytes), with <c>sources: true</c>.</summary>
    public Dictionary<string, byte[]> SourceFiles { get; } = new(StringComparer.Ordinal);

    public byte[] Release { get; }

    public string Dists => $"{_base}/dists/{Suite}";

    public string UrlPathOf(Package package) => $"{_base}/{package.Filename}";

    public string ByHashPath(string index) => $"{Dists}/{index[..index.LastIndexOf('/')]}/by-hash/SHA256/{Sha256(Indexes[index])}";

    /// <summary>Puts every file on <paramref name="origin"/> (no validators, no lifetime).</summary>
    public void ServeFrom(TestOrigin origin, bool withInRelease = false)
    {
        origin.Files[$"{Dists}/Release"] = new OriginFile(Release);
        if (withInRelease)
        {
            origin.Files[$"{Dists}/InRelease"] = new OriginFile(Release);
        }

        foreach (var (path, bytes) in Indexes)
        {
            origin.Files[$"{Dists}/{path}"] = new OriginFile(bytes);
            origin.Files[ByHashPath(path)] = new OriginFile(bytes);
        }

        foreach (var package in Packages)
        {
            origin.Files[UrlPathOf(package)] = new OriginFile(package.Body);
        }

        foreach (var (path, bytes) in SourceFiles)
        {
            origin.Files[$"{_base}/{path}"] = new OriginFile(bytes);
        }
    }

    public static string Sha256(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    private static byte[] Gzip(byte[] bytes)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Fastest))
        {
            gzip.Write(bytes);
        }

        return output.ToArray();
    }

    /// <summary>xz through the xz command (xz-utils, which apt's machines have): .NET has no xz encoder.</summary>
    public static byte[] Xz(byte[] bytes)
    {
        using var xz = Process.Start(new ProcessStartInfo("xz", "-c -z -T1")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
        })!;
        var output = new MemoryStream();
        var reading = xz.StandardOutput.BaseStream.CopyToAsync(output);
        xz.StandardInput.BaseStream.Write(bytes);
        xz.StandardInput.Close();
        reading.Wait();
        xz.WaitForExit();
        return output.ToArray();
    }
}
