using System.IO.Compression;
using System.Text;
using Replicator.Cache.Packages;

namespace Replicator.Tests.Cache;

/// <summary>Issue 12, point 2: what the indexes of a Debian repository list, read as apt reads them.</summary>
public sealed class DebianIndexTests
{
    private const string Hash1 = "1111111111111111111111111111111111111111111111111111111111111111";
    private const string Hash2 = "2222222222222222222222222222222222222222222222222222222222222222";

    [Fact]
    public void Release_ListsTheSha256SectionOnly()
    {
        var text = $"Origin: Debian\nMD5Sum:\n 0123456789abcdef0123456789abcdef 10 main/binary-amd64/Packages\nSHA256:\n {Hash1}      10 main/binary-amd64/Packages\n {Hash2.ToUpperInvariant()} 20 main/binary-amd64/Packages.xz\n bad line\n {Hash1} 5 ../escape\nAcquire-By-Hash: yes\n";

        var listed = DebianIndex.ReadRelease(new StringReader(text)).ToList();

        Assert.Equal([new ListedFile("main/binary-amd64/Packages", 10, Hash1), new ListedFile("main/binary-amd64/Packages.xz", 20, Hash2)], listed);
    }

    [Fact]
    public void InRelease_IsReadInsideItsSignature()
    {
        var text = $"-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\nSuite: stable\nSHA256:\n {Hash1} 10 main/Contents-all\n- -dash-escaped: yes\n-----BEGIN PGP SIGNATURE-----\n\n {Hash2} 99 forged\n-----END PGP SIGNATURE-----\n";

        Assert.Equal([new ListedFile("main/Contents-all", 10, Hash1)], DebianIndex.ReadRelease(new StringReader(text)));
    }

    [Fact]
    public void Packages_ListsFilenameSizeAndSha256_OfCompleteStanzas()
    {
        var text = $"Package: a\nFilename: pool/main/a/a_1_all.deb\nSize: 42\nSHA256: {Hash1}\n\nPackage: b\nFilename: pool/main/b/b_1_all.deb\nSHA256: {Hash2}\n\nPackage: c\nSize: 7\nSHA256: {Hash2}\nFilename: pool/main/c/c_1_all.deb";

        Assert.Equal(
            [new ListedFile("pool/main/a/a_1_all.deb", 42, Hash1), new ListedFile("pool/main/c/c_1_all.deb", 7, Hash2)],
            DebianIndex.ReadPackages(new StringReader(text)));
    }

    [Fact]
    public void Sources_JoinsDirectoryWithEachChecksumLine()
    {
        var text = $"Package: hello\nDirectory: pool/main/h/hello\nChecksums-Sha256:\n {Hash1} 1000 hello_2.10-3.dsc\n {Hash2} 2000 hello_2.10.orig.tar.gz\nFiles:\n 0123 5 x\n\n";

        Assert.Equal(
            [new ListedFile("pool/main/h/hello/hello_2.10-3.dsc", 1000, Hash1), new ListedFile("pool/main/h/hello/hello_2.10.orig.tar.gz", 2000, Hash2)],
            DebianIndex.ReadSources(new StringReader(text)));
    }

    [Theory]
    [InlineData("Packages", nameof(IndexKind.Packages))]
    [InlineData("Packages.xz", nameof(IndexKind.Packages))]
    [InlineData("Sources.zst", nameof(IndexKind.Sources))]
    [InlineData("InRelease", nameof(IndexKind.Release))]
    [InlineData("Release", nameof(IndexKind.Release))]
    [InlineData("Release.gpg", null)]
    [InlineData("Translation-en.bz2", null)]
    [InlineData("Contents-amd64.gz", null)]
    public void KindOf_KnowsTheIndexesThatListFiles(string name, string? kind)
    {
        Assert.Equal(kind is null ? null : Enum.Parse<IndexKind>(kind), DebianIndex.KindOf(name));
    }

    [Theory]
    [InlineData("Packages")]
    [InlineData("Packages.gz")]
    [InlineData("Packages.xz")]
    [InlineData("Packages.bz2")]
    [InlineData("Packages.zst")]
    [InlineData("Packages.lz4")]
    public void Decompressed_ReadsEveryCompressionAptFetches(string name)
    {
        var text = string.Concat(Enumerable.Range(0, 200).Select(i => $"Package: p{i}\nFilename: pool/p{i}.deb\nSize: {i}\nSHA256: {Hash1}\n\n"));
        var compressed = Compress(Encoding.UTF8.GetBytes(text), name);

        using var reader = new StreamReader(DebianIndex.Decompressed(new MemoryStream(compressed), name));

        Assert.Equal(200, DebianIndex.ReadPackages(reader).Count());
    }

    private static byte[] Compress(byte[] bytes, string name)
    {
        if (name.EndsWith(".xz", StringComparison.Ordinal))
        {
            return TestRepository.Xz(bytes);
        }

        using var output = new MemoryStream();
        Stream? compressor = Path.GetExtension(name) switch
        {
            ".gz" => new GZipStream(output, CompressionLevel.Fastest, leaveOpen: true),
            ".bz2" => SharpCompress.Compressors.BZip2.BZip2Stream.Create(output, SharpCompress.Compressors.CompressionMode.Compress, decompressConcatenated: false, leaveOpen: true),
            ".zst" => new SharpCompress.Compressors.ZStandard.CompressionStream(output, 3, leaveOpen: true),
            ".lz4" => K4os.Compression.LZ4.Streams.LZ4Stream.Encode(output, leaveOpen: true),
            _ => null,
        };
        if (compressor is null)
        {
            return bytes;
        }

        using (compressor)
        {
            compressor.Write(bytes);
        }

        return output.ToArray();
    }
}
