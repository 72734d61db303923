using Replicator.Cache;

namespace Replicator.Tests.Cache;

/// <summary>Issue 12, point 1: the built-in table of package files and indexes, and the user's globs before it.</summary>
public sealed class FileClassesTests
{
    [Theory]
    [InlineData("/debian/pool/main/h/hello/hello_2.10-3_amd64.deb")]
    [InlineData("/ubuntu/pool/main/l/linux/linux-image_6.8_amd64.udeb")]
    [InlineData("/ubuntu/pool/main/l/linux/linux-image-dbgsym_6.8_amd64.ddeb")]
    [InlineData("/debian/pool/main/h/hello/hello_2.10-3.dsc")]
    [InlineData("/debian/pool/main/h/hello/hello_2.10.orig.tar.gz")]
    [InlineData("/debian/pool/main/h/hello/hello_2.10-3.debian.tar.xz")]
    [InlineData("/debian/pool/main/h/hello/hello_2.10-3.diff.gz")]
    [InlineData("/debian/pool/main/h/hello/hello_2.10-3_amd64.buildinfo")]
    [InlineData("/debian/pool/main/h/hello/hello_2.10-3_amd64.changes")]
    [InlineData("/debian/dists/bookworm/main/binary-amd64/by-hash/SHA256/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")]
    [InlineData("/debian/dists/bookworm/main/i18n/by-hash/MD5Sum/0123456789abcdef0123456789abcdef")]
    [InlineData("/fedora/releases/40/Everything/x86_64/os/Packages/b/bash-5.2.26-3.fc40.x86_64.rpm")]
    [InlineData("/fedora/releases/40/Everything/x86_64/os/repodata/4c3f8e9a1b2c3d4e5f60718293a4b5c6d7e8f90112233445566778899aabbccdd-primary.xml.zst")]
    [InlineData("/alpine/v3.20/main/x86_64/busybox-1.36.1-r29.apk")]
    [InlineData("/archlinux/core/os/x86_64/bash-5.2.026-2-x86_64.pkg.tar.zst")]
    [InlineData("/archlinux/core/os/x86_64/bash-5.2.026-2-x86_64.pkg.tar.zst.sig")]
    [InlineData("/packages/3d/4e/5f60718293a4b5c6d7e8f901/requests-2.32.3-py3-none-any.whl")]
    public void PackageFiles_AreImmutable(string path)
    {
        Assert.Equal(FileClass.Immutable, FileClasses.BuiltIn.Classify(path));
    }

    [Theory]
    [InlineData("/debian/dists/bookworm/InRelease")]
    [InlineData("/debian/dists/bookworm/Release")]
    [InlineData("/debian/dists/bookworm/Release.gpg")]
    [InlineData("/debian/dists/bookworm/main/binary-amd64/Packages")]
    [InlineData("/debian/dists/bookworm/main/binary-amd64/Packages.xz")]
    [InlineData("/debian/dists/bookworm/main/source/Sources.gz")]
    [InlineData("/debian/dists/bookworm/main/Contents-amd64.gz")]
    [InlineData("/debian/dists/bookworm/main/i18n/Translation-en.bz2")]
    [InlineData("/debian/dists/bookworm/main/binary-amd64/Packages.diff/Index")]
    [InlineData("/fedora/releases/40/Everything/x86_64/os/repodata/repomd.xml")]
    [InlineData("/alpine/v3.20/main/x86_64/APKINDEX.tar.gz")]
    [InlineData("/archlinux/core/os/x86_64/core.db")]
    [InlineData("/archlinux/core/os/x86_64/core.files")]
    public void Indexes_AreVolatile(string path)
    {
        Assert.Equal(FileClass.Volatile, FileClasses.BuiltIn.Classify(path));
    }

    [Theory]
    [InlineData("/index.html")]
    [InlineData("/images/logo.png")]
    [InlineData("/debian/README")]
    [InlineData("/debian/dists/bookworm/ChangeLog")]
    [InlineData("/fedora/releases/40/Everything/x86_64/os/repodata/comps-f40.xml")]
    [InlineData("/downloads/app.tar.gz")]
    public void OtherFiles_FollowTheRfc(string path)
    {
        Assert.Equal(FileClass.Other, FileClasses.BuiltIn.Classify(path));
    }

    [Fact]
    public void AUrlWithAQuery_IsNeverClassed()
    {
        Assert.Equal(FileClass.Other, FileClasses.BuiltIn.Classify("/debian/pool/main/h/hello/hello_2.10-3_amd64.deb", "v=2"));
        Assert.Equal(FileClass.Other, FileClasses.BuiltIn.Classify("/debian/dists/bookworm/InRelease", "x"));
    }

    [Fact]
    public void UserGlobs_ComeFirst_VolatileBeforeImmutable()
    {
        var classes = new FileClasses(immutable: ["/isos/**", "**/*.deb"], @volatile: ["**/pool/**/latest.deb", "**/current/**"]);

        Assert.Equal(FileClass.Immutable, classes.Classify("/isos/debian-12.7.0-amd64-netinst.iso"));
        Assert.Equal(FileClass.Volatile, classes.Classify("/debian/pool/main/x/x/latest.deb"));
        Assert.Equal(FileClass.Volatile, classes.Classify("/debian/current/pool/main/h/hello/hello_1_all.deb"));
        Assert.Equal(FileClass.Immutable, classes.Classify("/elsewhere/hello_1_all.deb"));
        Assert.Equal(FileClass.Volatile, classes.Classify("/debian/dists/bookworm/InRelease"));
    }
}
