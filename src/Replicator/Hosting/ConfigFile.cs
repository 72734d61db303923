using System.CommandLine;

namespace Replicator.Hosting;

/// <summary>
/// --config FILE: the options a service runs with, one per line as <c>name = value</c> with the long options' names
/// (<c>port = 3128</c>, <c>ip = 10.0.0.0/8</c>; a repeatable option on several lines; <c>static = true</c> for a
/// switch), <c>#</c> comments and blank lines ignored. The file becomes arguments placed before the command line's;
/// an option the command line gives is taken from the command line alone. A bad line is one error naming the file
/// and the line number.
/// </summary>
internal static class ConfigFile
{
    /// <summary>The file's options as arguments; throws <see cref="FormatException"/> with FILE:LINE: reason.</summary>
    /// <param name="onCommandLine">Whether the command line gives the option of this name (then the file's lines for it are skipped).</param>
    public static string[] Read(string path, CommandOptions options, Func<string, bool> onCommandLine)
    {
        string[] lines;
        try
        {
            lines = File.ReadAllLines(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new FormatException($"--config: cannot read {path}: {e.Message}");
        }

        var args = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < lines.Length; i++)
        {
            var where = $"{path}:{i + 1}";
            var line = lines[i].Trim();
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            var equals = line.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0)
            {
                throw new FormatException($"{where}: expected 'name = value', found '{line}'");
            }

            var name = line[..equals].Trim();
            var value = line[(equals + 1)..].Trim();
            var option = options.ByName(name);
            if (option is null || name is "config" or "help" or "version")
            {
                throw new FormatException($"{where}: '{name}' is not an option (use the long names, without dashes)");
            }

            var repeatable = option.Arity.MaximumNumberOfValues > 1;
            if (!seen.Add(name) && !repeatable && name != "verbose")
            {
                throw new FormatException($"{where}: '{name}' is set twice (only repeatable options may be)");
            }

            if (onCommandLine(name))
            {
                continue;
            }

            var lineArgs = ToArguments(option, name, value, where);
            // Each line is checked on its own, so that a bad value is blamed on its line.
            var alone = options.Command.Parse(lineArgs);
            if (alone.Errors.Count > 0)
            {
                throw new FormatException($"{where}: {alone.Errors[0].Message}");
            }

            args.AddRange(lineArgs);
        }

        return [.. args];
    }

    private static string[] ToArguments(Option option, string name, string value, string where)
    {
        if (name == "verbose")
        {
            return int.TryParse(value, out var level) && level is >= 0 and <= 2
                ? [.. Enumerable.Repeat("--verbose", level)]
                : throw new FormatException($"{where}: verbose is 0, 1 or 2, not '{value}'");
        }

        if (option.Arity.MaximumNumberOfValues == 0 || option.ValueType == typeof(bool))
        {
            return value.ToLowerInvariant() switch
            {
                "true" or "yes" or "on" or "1" => [option.Name],
                "false" or "no" or "off" or "0" => [],
                _ => throw new FormatException($"{where}: {name} is a switch: true or false, not '{value}'"),
            };
        }

        if (value.Length == 0)
        {
            throw new FormatException($"{where}: {name} needs a value");
        }

        return [option.Name, value];
    }
}
