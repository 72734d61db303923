using Replicator.Http;

namespace Replicator.Cache;

/// <summary>
/// The caching rules of RFC 9111 that Replicator follows: what may be stored, how old a stored response is, and
/// whether it may be served without asking the origin. A response without an explicit lifetime (max-age, s-maxage,
/// Expires) but with a Last-Modified is fresh for a fraction of its age then (the heuristic of section 4.2.2,
/// --heuristic, capped at <see cref="HeuristicCap"/>), unless its file class says otherwise (<see cref="FileClasses"/>);
/// without either it is revalidated every time.
/// </summary>
internal static class Freshness
{
    /// <summary>Final statuses other than 200 that are stored, as answers under .replicator/ (RFC 9110 section 15.1).</summary>
    private static readonly HashSet<int> s_storedStatuses = [203, 204, 300, 301, 308, 404, 405, 410, 414, 501];

    /// <summary>
    /// Whether a non-200 answer to a GET may be stored (RFC 9111 section 3): a status RFC 9110 section 15.1 makes
    /// cacheable, with an explicit lifetime (no heuristic freshness here), by the same rules as a 200.
    /// </summary>
    public static bool IsStorableAnswer(RequestHead request, ResponseHead response) =>
        s_storedStatuses.Contains(response.Status) && Lifetime(response.Headers) is not null && IsStorableOtherwise(request, response);

    /// <summary>
    /// Whether a package index's 404 or 410 is kept even without a lifetime: it is never fresh (an index is always
    /// asked again online), but offline it is the answer apt needs. A repository without InRelease answers 404, and
    /// apt falls back to Release only on a 404, not on the 504 of a file the cache does not have.
    /// </summary>
    public static bool IsRememberedIndexAnswer(RequestHead request, ResponseHead response, FileClass fileClass) =>
        fileClass == FileClass.Volatile && response.Status is 404 or 410 && IsStorableOtherwise(request, response);

    /// <summary>Whether a response to a GET may be stored (RFC 9111 section 3).</summary>
    public static bool IsStorable(RequestHead request, ResponseHead response) => response.Status == 200 && IsStorableOtherwise(request, response);

    private static bool IsStorableOtherwise(RequestHead request, ResponseHead response)
    {

        var responseControl = CacheControl.Parse(response.Headers);
        if (responseControl.Has("no-store") || responseControl.Has("private") || CacheControl.Parse(request.Headers).Has("no-store"))
        {
            return false;
        }

        if (response.Headers.HasToken("Vary", "*"))
        {
            return false;
        }

        // A cookie is one user's: replaying it to the next user is the classic leak of a shared cache (RFC 9111
        // section 7.3 leaves it to the cache). Such a response is stored only when the origin addressed shared caches
        // explicitly, and then whole, cookie included (section 3.1); otherwise it is passed on and not stored.
        var forSharedCaches = responseControl.Has("public") || responseControl.Has("s-maxage");
        if (!forSharedCaches && (response.Headers.Contains("Set-Cookie") || response.Headers.Contains("Set-Cookie2")))
        {
            return false;
        }

        // A shared cache must not reuse an answer to an authorised request unless the response allows it (section 3.5).
        return !request.Headers.Contains("Authorization") || forSharedCaches || responseControl.Has("must-revalidate");
    }

    /// <summary>How long the response is fresh; null when it states no lifetime.</summary>
    public static TimeSpan? Lifetime(HttpHeaders response)
    {
        var control = CacheControl.Parse(response);
        if (control.Seconds("s-maxage") is { } shared)
        {
            return shared;
        }

        if (control.Seconds("max-age") is { } maxAge)
        {
            return maxAge;
        }

        if (response.Contains("Expires"))
        {
            // An invalid Expires (such as "0") means already expired.
            return HttpDate.TryParse(response["Expires"], out var expires) && HttpDate.TryParse(response["Date"], out var date)
                ? expires - date
                : TimeSpan.Zero;
        }

        return null;
    }

    /// <summary>The stored response's current age (RFC 9111 section 4.2.3).</summary>
    public static TimeSpan Age(StoredResponse stored, DateTimeOffset now)
    {
        var apparent = stored.Date is { } date ? Max(TimeSpan.Zero, stored.ResponseTime - date) : TimeSpan.Zero;
        var corrected = stored.ReceivedAge + (stored.ResponseTime - stored.RequestTime);
        return Max(apparent, corrected) + Max(TimeSpan.Zero, now - stored.ResponseTime);
    }

    /// <summary>The longest heuristic lifetime (RFC 9111 section 4.2.2 leaves the bound to the cache; squid's default is also a day).</summary>
    public static readonly TimeSpan HeuristicCap = TimeSpan.FromDays(1);

    /// <summary>
    /// The lifetime the RFC's heuristic gives a response with no explicit one (RFC 9111 section 4.2.2): a fraction
    /// (<paramref name="fraction"/>, 0 for none) of the time between its Last-Modified and its Date, at most
    /// <see cref="HeuristicCap"/>; only for the statuses RFC 9110 section 15.1 makes heuristically cacheable.
    /// </summary>
    public static TimeSpan? HeuristicLifetime(StoredResponse stored, double fraction)
    {
        if (fraction <= 0 || stored.Lifetime is not null || stored.LastModified is not { } modified
            || (stored.Status != 200 && !s_storedStatuses.Contains(stored.Status)))
        {
            return null;
        }

        var since = (stored.Date ?? stored.ResponseTime) - modified;
        return since <= TimeSpan.Zero ? null : since * fraction < HeuristicCap ? since * fraction : HeuristicCap;
    }

    /// <summary>
    /// Whether <paramref name="stored"/> may answer <paramref name="request"/> without asking the origin;
    /// <paramref name="heuristic"/> is the fraction of <see cref="HeuristicLifetime"/> (0: explicit lifetimes only).
    /// </summary>
    public static bool IsFresh(StoredResponse stored, HttpHeaders request, DateTimeOffset now, double heuristic = 0)
    {
        if (stored.Synthesized || stored.Invalidated || stored.Control.Has("no-cache"))
        {
            return false;
        }

        var requestControl = CacheControl.Parse(request);
        if (requestControl.Has("no-cache") || (!request.Contains("Cache-Control") && request.HasToken("Pragma", "no-cache")))
        {
            return false;
        }

        var age = Age(stored, now);
        if (requestControl.Seconds("max-age") is { } maxAge && age > maxAge)
        {
            return false;
        }

        if ((stored.Lifetime ?? HeuristicLifetime(stored, heuristic)) is not { } lifetime)
        {
            return false;
        }

        // min-fresh: the client wants the response to stay fresh that much longer (RFC 9111 section 5.2.1.3).
        if (requestControl.Seconds("min-fresh") is { } minFresh && lifetime - age < minFresh)
        {
            return false;
        }

        if (age < lifetime)
        {
            return true;
        }

        // max-stale: the client accepts a stale response, that stale at most when a value is given (section
        // 5.2.1.2), unless the response forbids serving it stale (section 4.2.4).
        return requestControl.Has("max-stale") && !MustRevalidate(stored)
            && (!requestControl.HasArgument("max-stale") || age - lifetime <= requestControl.Seconds("max-stale"));
    }

    /// <summary>
    /// Whether the response's stale-if-error (RFC 5861 section 4) lets it be served while the origin answers with an
    /// error (5xx).
    /// </summary>
    public static bool MayServeStaleOnError(StoredResponse stored, DateTimeOffset now) => WithinStaleAllowance(stored, "stale-if-error", now);

    /// <summary>
    /// Whether the response's stale-while-revalidate (RFC 5861 section 3) lets it be served stale at once while it
    /// is revalidated in the background.
    /// </summary>
    public static bool MayServeStaleWhileRevalidating(StoredResponse stored, HttpHeaders request, DateTimeOffset now) =>
        !stored.Synthesized && !stored.Invalidated && !CacheControl.Parse(request).Has("no-cache") && WithinStaleAllowance(stored, "stale-while-revalidate", now);

    /// <summary>
    /// An RFC 5861 allowance: the response names <paramref name="directive"/>, is no more stale than its seconds,
    /// and does not forbid serving it stale (must-revalidate and its kin).
    /// </summary>
    private static bool WithinStaleAllowance(StoredResponse stored, string directive, DateTimeOffset now) =>
        stored.Control.Has(directive) && !MustRevalidate(stored) && stored.Lifetime is { } lifetime
        && Age(stored, now) - lifetime <= stored.Control.Seconds(directive);

    /// <summary>Whether a stale copy may not be served when the origin cannot be reached (must-revalidate).</summary>
    public static bool MustRevalidate(StoredResponse stored)
    {
        // must-revalidate (RFC 9111 section 5.2.2.2), proxy-revalidate for a shared cache (5.2.2.8), s-maxage, which
        // implies it (5.2.2.10), and no-cache, which forbids any use without a successful validation (5.2.2.4).
        var control = stored.Control;
        return control.Has("must-revalidate") || control.Has("proxy-revalidate") || control.Has("s-maxage") || control.Has("no-cache");
    }

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;
}
