namespace Replicator.Http;

/// <summary>
/// A client's conditional request fields against a representation (RFC 9110 section 13): whether it already has
/// it (If-None-Match, If-Modified-Since: answered 304), and whether its If-Range still holds (a Range applies).
/// </summary>
internal static class Conditionals
{
    /// <summary>
    /// The client's validators match (RFC 9110 sections 13.1.2 and 13.1.3): If-None-Match by weak comparison, else
    /// If-Modified-Since against <paramref name="lastModified"/>.
    /// </summary>
    public static bool NotModified(HttpHeaders request, string? etag, DateTimeOffset lastModified)
    {
        if (request.Contains("If-None-Match"))
        {
            return etag is not null && request.GetList("If-None-Match").Any(tag => tag == "*" || OpaqueTag(tag) == OpaqueTag(etag));
        }

        return HttpDate.TryParse(request["If-Modified-Since"], out var since) && lastModified <= since;
    }

    /// <summary>If-Range (RFC 9110 section 13.1.5): a strong ETag equal to ours, or exactly our Last-Modified; absent holds.</summary>
    public static bool IfRangeHolds(HttpHeaders request, string? etag, DateTimeOffset? lastModified)
    {
        var condition = request["If-Range"];
        if (condition is null)
        {
            return true;
        }

        if (condition.StartsWith('"') || condition.StartsWith("W/", StringComparison.Ordinal))
        {
            return !condition.StartsWith("W/", StringComparison.Ordinal) && etag is not null && !etag.StartsWith("W/", StringComparison.Ordinal) && etag == condition;
        }

        return HttpDate.TryParse(condition, out var date) && lastModified == date;
    }

    private static string OpaqueTag(string tag) => tag.StartsWith("W/", StringComparison.Ordinal) ? tag[2..] : tag;
}
