using System.Globalization;

namespace Replicator.Cache.Upkeep;

/// <summary>Sizes as an admin writes them: <c>50G</c>, <c>512M</c>, <c>1.5T</c>, <c>4096</c> (binary units: K = 1024).</summary>
internal static class ByteSize
{
    public static bool TryParse(string text, out long bytes)
    {
        bytes = 0;
        text = text.Trim();
        if (text.Length == 0)
        {
            return false;
        }

        var unit = char.ToUpperInvariant(text[^1]) switch
        {
            'K' => 1L << 10,
            'M' => 1L << 20,
            'G' => 1L << 30,
            'T' => 1L << 40,
            _ => 1L,
        };
        var number = unit == 1 ? text : text[..^1];
        if (!double.TryParse(number, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var value) || value <= 0 || value * unit > long.MaxValue / 2)
        {
            return false;
        }

        bytes = (long)(value * unit);
        return bytes > 0;
    }

    /// <summary>A share of a file system: <c>10%</c> or <c>10</c> (percent, above 0 and below 100).</summary>
    public static bool TryParsePercent(string text, out double share)
    {
        share = 0;
        var number = text.Trim().TrimEnd('%');
        if (!double.TryParse(number, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var percent) || percent <= 0 || percent >= 100)
        {
            return false;
        }

        share = percent / 100;
        return true;
    }

    /// <summary>Bytes for people: 1.5 GiB, 512 KiB.</summary>
    public static string Format(long bytes)
    {
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB"];
        double value = bytes;
        var unit = 0;
        while (Math.Abs(value) >= 1024 && unit < units.Length - 1)
        {
            value /= 1024;
            unit++;
        }

        return unit == 0 ? $"{bytes} B" : string.Create(CultureInfo.InvariantCulture, $"{value:0.#} {units[unit]}");
    }
}
