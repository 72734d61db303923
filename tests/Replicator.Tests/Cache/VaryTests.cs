using Replicator.Cache;
using Replicator.Http;

namespace Replicator.Tests.Cache;

/// <summary>Issue 11, point 10: the selecting fields of a Vary response are compared normalised (RFC 9111 section 4.1).</summary>
public class VaryTests
{
    [Theory]
    [InlineData("Accept-Encoding", "gzip, deflate", "gzip,deflate", true)]
    [InlineData("Accept-Encoding", "gzip, deflate", "  GZIP ,  Deflate ", true)]
    [InlineData("Accept-Encoding", "gzip, deflate", "deflate, gzip", false)] // order can matter (q-values aside)
    [InlineData("Accept-Language", "en-GB", "en-gb", true)]
    [InlineData("Cookie", "theme=Dark", "theme=dark", false)] // case matters outside the Accept family
    [InlineData("Cookie", "theme=dark", " theme=dark ", true)]
    [InlineData("Accept-Encoding", null, null, true)]
    [InlineData("Accept-Encoding", null, "gzip", false)]
    [InlineData("Accept-Encoding", "gzip", null, false)]
    public void MatchesVary_ComparesNormalisedValues(string field, string? stored, string? asked, bool matches)
    {
        var response = new HttpHeaders();
        response.Add("Vary", field);
        var first = new HttpHeaders();
        if (stored is not null)
        {
            first.Add(field, stored);
        }

        var entry = new StoredResponse
        {
            Headers = response,
            RequestTime = DateTimeOffset.UnixEpoch,
            ResponseTime = DateTimeOffset.UnixEpoch,
            Length = 1,
            BodyStamp = DateTimeOffset.UnixEpoch,
            VaryKey = StoredResponse.VaryKeyOf(response, first),
        };
        var request = new HttpHeaders();
        if (asked is not null)
        {
            request.Add(field, asked);
        }

        Assert.Equal(matches, entry.MatchesVary(request));
    }

    [Fact]
    public void TheKey_SurvivesTheMetadataFile()
    {
        var response = new HttpHeaders();
        response.Add("Vary", "Accept-Encoding");
        var request = new HttpHeaders();
        request.Add("Accept-Encoding", " GZIP ");
        var stored = new StoredResponse { Headers = response, RequestTime = DateTimeOffset.UnixEpoch, ResponseTime = DateTimeOffset.UnixEpoch, Length = 1, BodyStamp = DateTimeOffset.UnixEpoch, VaryKey = StoredResponse.VaryKeyOf(response, request) };

        var again = StoredResponse.TryParse(stored.Serialize())!;
        var next = new HttpHeaders();
        next.Add("Accept-Encoding", "gzip");

        Assert.True(again.MatchesVary(next));
    }
}
