using System.Globalization;
using Replicator.Cache;
using Replicator.Http;

namespace Replicator.Proxy;

/// <summary>
/// Resuming a body an earlier download left (RFC 9110 sections 14.2 and 13.1.5): ask for the rest with Range and
/// If-Range, and accept only a 206 that continues exactly where the partial stops; anything else starts over.
/// </summary>
internal static class Resume
{
    /// <summary>The request fields that ask for the bytes from <paramref name="from"/> of the response the partial holds.</summary>
    public static HttpHeaders Request(HttpHeaders endToEnd, long from, StoredResponse partial)
    {
        var headers = endToEnd.Clone();
        headers.Set("Range", $"bytes={from.ToString(CultureInfo.InvariantCulture)}-");
        headers.Set("If-Range", partial.ETag ?? HttpDate.Format(partial.LastModified!.Value));
        return headers;
    }

    /// <summary>A 206 that continues the partial: "bytes N-(T-1)/T" from exactly where it stops.</summary>
    public static bool Continues(ResponseHead response, long from) =>
        response.Status == 206 && ContentRange.Parse(response.Headers["Content-Range"]) is { } range && range.Start == from && range.End == range.Total - 1;

    /// <summary>The whole body's length, from a 206's Content-Range.</summary>
    public static long? Total(ResponseHead response) => ContentRange.Parse(response.Headers["Content-Range"])?.Total;
}
