using System.Globalization;

namespace Replicator.Http;

/// <summary>Numbers written into a text as digits, without the string <see cref="TextWriter.Write(long)"/> makes for each.</summary>
internal static class InvariantText
{
    public static void WriteNumber(this TextWriter output, long value)
    {
        Span<char> digits = stackalloc char[20];
        value.TryFormat(digits, out var written, default, CultureInfo.InvariantCulture);
        output.Write(digits[..written]);
    }
}
