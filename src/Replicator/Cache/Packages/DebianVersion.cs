namespace Replicator.Cache.Packages;

/// <summary>
/// Debian's version order (deb-version(7), as dpkg compares): [epoch:]upstream[-revision], each part compared as
/// alternating runs of non-digits (letters before other characters, '~' before everything, even the end) and numbers.
/// Expiry keeps the newest versions of a package by it.
/// </summary>
internal static class DebianVersion
{
    public static int Compare(string a, string b)
    {
        var (epochA, upstreamA, revisionA) = Split(a);
        var (epochB, upstreamB, revisionB) = Split(b);
        var order = epochA.CompareTo(epochB);
        if (order != 0)
        {
            return order;
        }

        order = ComparePart(upstreamA, upstreamB);
        return order != 0 ? order : ComparePart(revisionA, revisionB);
    }

    private static (long Epoch, string Upstream, string Revision) Split(string version)
    {
        // In file names the epoch's ':' is dropped or written %3a.
        version = version.Replace("%3a", ":", StringComparison.OrdinalIgnoreCase);
        var colon = version.IndexOf(':');
        var epoch = colon > 0 && long.TryParse(version.AsSpan(0, colon), out var e) ? e : 0;
        var rest = colon > 0 ? version[(colon + 1)..] : version;
        var dash = rest.LastIndexOf('-');
        return dash > 0 ? (epoch, rest[..dash], rest[(dash + 1)..]) : (epoch, rest, string.Empty);
    }

    private static int ComparePart(string a, string b)
    {
        int i = 0, j = 0;
        while (i < a.Length || j < b.Length)
        {
            // Non-digit runs, character by character.
            while ((i < a.Length && !char.IsAsciiDigit(a[i])) || (j < b.Length && !char.IsAsciiDigit(b[j])))
            {
                var order = Weight(a, i).CompareTo(Weight(b, j));
                if (order != 0)
                {
                    return order;
                }

                i++;
                j++;
            }

            // Number runs, by value.
            long x = 0, y = 0;
            while (i < a.Length && char.IsAsciiDigit(a[i]))
            {
                x = (x * 10) + (a[i++] - '0');
            }

            while (j < b.Length && char.IsAsciiDigit(b[j]))
            {
                y = (y * 10) + (b[j++] - '0');
            }

            if (x != y)
            {
                return x.CompareTo(y);
            }
        }

        return 0;
    }

    /// <summary>'~' sorts before the end of the run, the end before letters, letters before anything else.</summary>
    private static int Weight(string text, int index)
    {
        if (index >= text.Length || char.IsAsciiDigit(text[index]))
        {
            return 0;
        }

        var c = text[index];
        return c == '~' ? -1 : char.IsAsciiLetter(c) ? c : c + 256;
    }
}
