using System.IO.Abstractions.TestingHelpers;
using Replicator.Cache;
using Replicator.Http;

namespace Replicator.Tests.Cache;

public class CacheStoreTests
{
    private const string Root = "/cache";
    private static readonly DateTimeOffset s_stamp = new(2024, 1, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Lookup_BodyWithMatchingMetadata_CarriesTheStoredFields()
    {
        var fs = new MockFileSystem();
        var store = new CacheStore(fs, Root);
        fs.AddFile("/cache/h:80/a.txt", new MockFileData("abc") { LastWriteTime = s_stamp.UtcDateTime });
        store.UpdateMeta("h:80/a.txt", Stored(3, "text/css"));

        var entry = store.Lookup("h:80/a.txt")!;

        Assert.False(entry.Response.Synthesized);
        Assert.Equal("text/css", entry.Response.Headers["Content-Type"]);
        Assert.True(fs.File.Exists("/cache/.replicator/meta/h:80/a.txt"));
    }

    [Fact]
    public void Lookup_MetadataOfAnotherBody_IsIgnoredAndTheBodyRevalidated()
    {
        var fs = new MockFileSystem();
        fs.AddFile("/cache/h:80/a.txt", new MockFileData("abcdef") { LastWriteTime = s_stamp.UtcDateTime });
        new CacheStore(fs, Root).UpdateMeta("h:80/a.txt", Stored(3, "text/css"));

        // A store that starts on this tree (nothing remembered yet) checks the metadata against the body.
        var entry = new CacheStore(fs, Root).Lookup("h:80/a.txt")!;

        Assert.True(entry.Response.Synthesized);
        Assert.Equal("text/plain", entry.Response.Headers["Content-Type"]);
        Assert.False(Freshness.IsFresh(entry.Response, new HttpHeaders(), DateTimeOffset.UtcNow));
    }

    [Fact]
    public void Lookup_DirectoryOrNothing_IsAMiss()
    {
        var fs = new MockFileSystem();
        var store = new CacheStore(fs, Root);
        fs.AddDirectory("/cache/h:80/dir");

        Assert.Null(store.Lookup("h:80/dir"));
        Assert.Null(store.Lookup("h:80/none"));
    }

    [Fact]
    public void Lookup_BodyCopiedInByHand_GetsATypeFromItsName()
    {
        var fs = new MockFileSystem();
        var store = new CacheStore(fs, Root);
        fs.AddFile("/cache/h:80/pool/x.deb", new MockFileData("deb"));

        Assert.Equal("application/vnd.debian.binary-package", store.Lookup("h:80/pool/x.deb")!.Response.Headers["Content-Type"]);
    }

    [Theory]
    [InlineData(5, 10, "\"e\"", true, true)] // a validator, bytes short of the whole: resumed
    [InlineData(5, -1, "\"e\"", true, true)] // length unknown (chunked): resumed
    [InlineData(0, 10, "\"e\"", true, false)] // nothing written yet
    [InlineData(12, 10, "\"e\"", true, false)] // more bytes than the response has: not this response's
    [InlineData(5, 10, null, true, false)] // no ETag and no Last-Modified: If-Range impossible
    [InlineData(5, 10, "\"e\"", false, false)] // no metadata: whose bytes are these?
    public void FindResumable_DecidesFromTheBytesAndTheirMetadata(int written, long length, string? etag, bool withMeta, bool resumable)
    {
        var fs = new MockFileSystem();
        var store = new CacheStore(fs, Root);
        fs.AddFile("/cache/.replicator/partial/h:80/big.deb", new MockFileData(new byte[written]));
        if (withMeta)
        {
            var headers = new HttpHeaders();
            if (etag is not null)
            {
                headers.Add("ETag", etag);
            }

            var stored = new StoredResponse { Headers = headers, RequestTime = s_stamp, ResponseTime = s_stamp, Length = length, BodyStamp = s_stamp };
            fs.AddFile("/cache/.replicator/partial/h:80/big.deb%meta", new MockFileData(stored.Serialize()));
        }

        var found = store.FindResumable("h:80/big.deb");

        Assert.Equal(resumable, found is not null);
        if (found is { } resume)
        {
            Assert.Equal(written, resume.Length);
            Assert.Equal(etag, resume.Response.ETag);
        }
    }

    [Fact]
    public void FindResumable_NothingThere_CreatesNothing()
    {
        var fs = new MockFileSystem();
        var store = new CacheStore(fs, Root);

        Assert.Null(store.FindResumable("h:80/none"));
        Assert.False(fs.Directory.Exists("/cache/.replicator/partial"));
    }

    private static StoredResponse Stored(long length, string type)
    {
        var headers = new HttpHeaders();
        headers.Add("Content-Type", type);
        return new StoredResponse { Headers = headers, RequestTime = s_stamp, ResponseTime = s_stamp, Length = length, BodyStamp = s_stamp };
    }
}
