using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using System.Net;

namespace Replicator.Hosting;

/// <summary>
/// The command line: every option is declared here once, with its default and its validator (a bad value is one
/// line naming the option and what it expects, exit code 2), and the parse result becomes <see cref="Settings"/>.
/// Options may also come from a file (--config, see <see cref="ConfigFile"/>); the command line overrides it.
/// </summary>
internal static class ReplicatorCommand
{
    public const int UsageError = 2;

    public static int Run(string[] args, Func<Settings, int> run)
    {
        if (args.Length > 0 && args[0] == "cache")
        {
            return RunCache(args);
        }

        if (args.Length > 0 && args[0] == "mirror")
        {
            try
            {
                return MirrorCommand.Run(args);
            }
            catch (UsageException e)
            {
                return Fail(e.Message);
            }
        }

        var options = new CommandOptions();
        var command = options.Command;
        var parsed = command.Parse(args);
        if (parsed.Action is not null && parsed.Errors.Count == 0)
        {
            // --help and --version
            return parsed.Invoke();
        }

        if (parsed.Errors.Count > 0)
        {
            return Fail(parsed.Errors[0].Message);
        }

        string[] fromFile = [];
        if (parsed.GetValue(options.Config) is { } configPath)
        {
            try
            {
                fromFile = ConfigFile.Read(configPath, options, name => parsed.GetResult(options.ByName(name)!) is { Implicit: false });
            }
            catch (FormatException e)
            {
                return Fail(e.Message);
            }

            parsed = command.Parse([.. fromFile, .. args]);
            if (parsed.Errors.Count > 0)
            {
                return Fail(parsed.Errors[0].Message);
            }
        }

        return run(options.ToSettings(parsed, [.. fromFile, .. args]));
    }

    /// <summary><c>replicator cache ...</c>: the maintenance commands (see <see cref="CacheCommand"/>).</summary>
    private static int RunCache(string[] args)
    {
        var parsed = new RootCommand("Replicator: a caching HTTP mirror proxy") { CacheCommand.Create() }.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            return Fail(parsed.Errors[0].Message);
        }

        try
        {
            return parsed.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
        }
        catch (UsageException e)
        {
            return Fail(e.Message);
        }
    }

    private static int Fail(string message)
    {
        Console.Error.WriteLine($"replicator: {message}");
        return UsageError;
    }
}

/// <summary>The options, each with its description, default and validator.</summary>
internal sealed class CommandOptions
{
    public CommandOptions()
    {
        Command = new RootCommand("Replicator: a caching HTTP mirror proxy")
        {
            Port, Bind, Root, Timeout, HeadTimeout, UpstreamHeadTimeout, Threads, Verbose, Debug, Static, Offline,
            ConnectPorts, FinishBelow, DirectIo, AllowedClients, MaxClientConnections, AllowTo, AllowPort, LogFile, PidFile, Limit,
            External, Aliases, Flat, Mirror, CaFile, Immutable, Volatile, Heuristic, MaxSize, MinFree, ExpireAfter, KeepVersions, Admin, Config,
        };
    }

    public RootCommand Command { get; }

    public Option<int> Port { get; } = Integer("--port", "-p", "TCP port to listen on (0: any free port)", HostOptions.DefaultPort, 0, 65535, "a TCP port (0-65535)");

    public Option<IPAddress[]> Bind { get; } = Addresses("--bind", "-b", "address to listen on, IPv4 or IPv6 (repeatable)", HostOptions.Defaults.Endpoints[0].Address);

    public Option<string> Root { get; } = new("--root", "-r") { Description = "cache root directory (created if missing)", DefaultValueFactory = _ => Cache.CacheOptions.Defaults.Root };

    public Option<int> Timeout { get; } = Integer("--timeout", "-t", "inactivity timeout of each socket wait, in seconds", Seconds(Proxy.ProxyOptions.Defaults.Timeout), 1, 86400, "a number of seconds (1-86400)");

    public Option<int> HeadTimeout { get; } = Integer("--head-timeout", null, "seconds a client has to send a whole request head", Seconds(Proxy.ProxyOptions.Defaults.RequestHeadTimeout), 1, 86400, "a number of seconds (1-86400)");

    public Option<int> UpstreamHeadTimeout { get; } = Integer("--upstream-head-timeout", null, "seconds an origin has to send a whole response head", Seconds(Proxy.ProxyOptions.Defaults.ResponseHeadTimeout), 1, 86400, "a number of seconds (1-86400)");

    public Option<int> Threads { get; } = Integer("--threads", null, "engine loops (threads); default one per core", HostOptions.Defaults.Threads, 1, 1024, "a number of loops (1-1024)");

    public Option<int> Verbose { get; } = new("--verbose", "-v") { Description = "more output: -v protocol decisions, -vv every header line", Arity = ArgumentArity.Zero, AllowMultipleArgumentsPerToken = true };

    public Option<bool> Debug { get; } = new("--debug") { Description = "write each fiber's lines at once, prefixed with its id, instead of one block per connection" };

    public Option<bool> Static { get; } = new("--static") { Description = "serve a complete cached file without asking the origin" };

    public Option<bool> Offline { get; } = new("--offline") { Description = "never connect upstream: serve what is cached, 504 for anything else" };

    public Option<int[]> ConnectPorts { get; } = Integers("--connect-port", "a port CONNECT tunnels may reach besides 443 (repeatable)", 1, 65535, "a TCP port (1-65535)");

    public Option<long> FinishBelow { get; } = Long("--finish-below", "bytes: a download whose last client left still finishes when it is this small (or over half done)", Cache.CacheOptions.Defaults.FinishBelow);

    public Option<Proxy.ClientAccess> AllowedClients { get; } = Parsed("--ip", "clients allowed to use the proxy, as CIDR (192.168.0.0/16, ::1/128) or wildcard (192.168.*.*) (repeatable; default: loopback only)", Proxy.ClientAccess.Parse);

    public Option<int> MaxClientConnections { get; } = Integer("--max-client-connections", null, "open connections one client address may hold (0: no cap)", Proxy.ProxyOptions.Defaults.MaxClientConnections, 0, 1_000_000, "a number of connections (0: no cap)");

    public Option<Proxy.AddressRange[]> AllowTo { get; } = Parsed("--allow-to", "an internal address range the proxy may connect to (loopback, link-local and its own addresses are refused otherwise) (repeatable)", specs => specs.Select(Proxy.AddressRange.Parse).ToArray());

    public Option<(int Low, int High)[]> AllowPort { get; } = Parsed("--allow-port", "PORT or LOW-HIGH: a port requests may reach besides squid's safe ports (repeatable)", specs => specs.Select(Proxy.UpstreamAccess.ParsePortRange).ToArray());

    public Option<string?> LogFile { get; } = new("--log") { Description = "append the log to FILE instead of standard output; SIGHUP reopens it (logrotate)" };

    public Option<string?> PidFile { get; } = new("--pid") { Description = "write the process id to FILE (removed at exit)" };

    public Option<double> Limit { get; } = new("--limit")
    {
        Description = "cap each upstream transfer at KBPS KiB/s (0: no limit)",
        CustomParser = result => Validate(result, Last(result), "a number of KiB/s (0: no limit)", (string text, out double value) => double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out value) && value >= 0 && double.IsFinite(value)),
    };

    public Option<Proxy.ParentProxy?> External { get; } = new("--external", "-e")
    {
        Description = "parent proxy [user:pass@]host:port: every upstream request (and CONNECT) goes through it",
        CustomParser = result => Validate(result, Last(result), "[user:pass@]host:port", (string text, out Proxy.ParentProxy? value) =>
        {
            value = Proxy.ParentProxy.Parse(text);
            return true;
        }),
    };

    public Option<(string, string[])[]> Aliases { get; } = Parsed("--alias", "PATH:PREFIX1[:PREFIX2...]: keep the files below these host[:port]/path prefixes in ROOT/PATH (repeatable)", specs => specs.Select(Cache.PathMapping.ParseAlias).ToArray(), "-a");

    public Option<bool> Flat { get; } = new("--flat") { Description = "keep every file in ROOT by its last name; a different file of the same name is never overwritten" };

    public Option<(string Name, string Url)[]> Mirror { get; } = Parsed("--mirror", "NAME=URL: http://this-proxy/NAME/PATH fetches URL/PATH into the cache (repeatable; a name given again adds a fallback URL)", specs => specs.Select(Proxy.MirrorRoutes.ParseMirror).ToArray());

    public Option<System.Security.Cryptography.X509Certificates.X509Certificate2Collection> CaFile { get; } = Parsed("--ca-file", "FILE: PEM certificates of authorities trusted for https origins besides the system's (repeatable)", paths =>
    {
        var all = new System.Security.Cryptography.X509Certificates.X509Certificate2Collection();
        foreach (var path in paths)
        {
            all.AddRange(Proxy.UpstreamTls.ReadAuthorities(path));
        }

        return all;
    });

    public Option<string[]> Immutable { get; } = Parsed("--immutable", "GLOB: URL paths that never change under their names, served from the cache without asking (repeatable; adds to the built-in table of package files)", specs => specs.Select(Cache.FileClasses.Validate).ToArray());

    public Option<string[]> Volatile { get; } = Parsed("--volatile", "GLOB: URL paths that change under their names, always revalidated (repeatable; adds to the built-in table of package indexes)", specs => specs.Select(Cache.FileClasses.Validate).ToArray());

    public Option<int> Heuristic { get; } = Integer("--heuristic", null, "percent of the time since Last-Modified a response without a stated lifetime stays fresh, at most a day (0: never)", Cache.CacheOptions.Defaults.HeuristicPercent, 0, 100, "a percentage (0-100)");

    public Option<long> DirectIo { get; } = Size("--direct-io", "SIZE (K, M, G: 64M): bodies at least this large are written straight to the disk, around the page cache (0: none)", Cache.CacheOptions.Defaults.DirectWriteAbove);

    public Option<long?> MaxSize { get; } = Optional<long>("--max-size", "SIZE (K, M, G, T: 50G): the most the cached files may take; the least recently used go first", "a size such as 50G, 512M or 4096", Cache.Upkeep.ByteSize.TryParse);

    public Option<double?> MinFree { get; } = Optional<double>("--min-free", "PERCENT (10%): free space to keep on the cache's file system; the least recently used files go first", "a percentage above 0 and below 100, such as 10%", Cache.Upkeep.ByteSize.TryParsePercent);

    public Option<int> ExpireAfter { get; } = Integer("--expire-after", null, "days a package file may stay listed by no cached index of its repository before the daily expiry removes it", Cache.Upkeep.ExpiryOptions.Defaults.ExpireAfterDays, 0, 36500, "a number of days (0-36500)");

    public Option<int> KeepVersions { get; } = Integer("--keep-versions", null, "newest versions of each package the expiry keeps whatever", Cache.Upkeep.ExpiryOptions.Defaults.KeepVersions, 0, 1000, "a number of versions (0-1000)");

    public Option<Proxy.ClientAccess> Admin { get; } = Parsed("--admin", "clients allowed to purge (PURGE requests), as CIDR or wildcard like --ip (repeatable; default: loopback only)", Proxy.ClientAccess.Parse);

    public Option<string?> Config { get; } = new("--config") { Description = "read options from FILE: 'name = value' lines with the long options' names; the command line overrides it" };

    /// <summary>The option with this long name (without the dashes), or null.</summary>
    public Option? ByName(string name) => Command.Options.FirstOrDefault(option => option.Name == "--" + name);

    public Settings ToSettings(ParseResult parsed, string[] args)
    {
        var port = parsed.GetValue(Port);
        var connectPorts = new HashSet<int> { Proxy.ProxyOptions.HttpsPort };
        connectPorts.UnionWith(parsed.GetValue(ConnectPorts) ?? []);
        var host = new HostOptions
        {
            Endpoints = [.. parsed.GetValue(Bind)!.Select(address => new IPEndPoint(address, port))],
            Threads = parsed.GetValue(Threads),
            // Repeatable and bundled (-v, -vv, -v -v, --verbose): counted from the arguments themselves.
            Verbosity = args.Sum(arg => arg == "--verbose" ? 1 : arg.Length > 1 && arg[0] == '-' && arg[1..].All(c => c == 'v') ? arg.Length - 1 : 0),
            Debug = parsed.GetValue(Debug),
            LogFile = parsed.GetValue(LogFile) is { } log ? Path.GetFullPath(log) : null,
            PidFile = parsed.GetValue(PidFile) is { } pid ? Path.GetFullPath(pid) : null,
        };
        var proxy = new Proxy.ProxyOptions
        {
            Timeout = TimeSpan.FromSeconds(parsed.GetValue(Timeout)),
            RequestHeadTimeout = TimeSpan.FromSeconds(parsed.GetValue(HeadTimeout)),
            ResponseHeadTimeout = TimeSpan.FromSeconds(parsed.GetValue(UpstreamHeadTimeout)),
            ConnectPorts = connectPorts,
            Access = parsed.GetValue(AllowedClients) ?? Proxy.ClientAccess.LoopbackOnly,
            MaxClientConnections = parsed.GetValue(MaxClientConnections),
            Upstream = new Proxy.UpstreamAccess(parsed.GetValue(AllowTo) ?? [], parsed.GetValue(AllowPort) ?? []),
            Limit = (long)(parsed.GetValue(Limit) * 1024),
            External = parsed.GetValue(External),
            Mirrors = new Proxy.MirrorRoutes(parsed.GetValue(Mirror) ?? []),
            ExtraAuthorities = parsed.GetValue(CaFile) ?? [],
            Admin = parsed.GetValue(Admin) ?? Proxy.ClientAccess.LoopbackOnly,
        };
        var cache = new Cache.CacheOptions
        {
            Root = Path.GetFullPath(parsed.GetValue(Root)!),
            Mapping = new Cache.PathMapping([.. parsed.GetValue(Aliases) ?? []], parsed.GetValue(Flat)),
            Serve = parsed.GetValue(Offline) ? Cache.ServeWithoutAsking.Offline : parsed.GetValue(Static) ? Cache.ServeWithoutAsking.Static : Cache.ServeWithoutAsking.Never,
            FinishBelow = parsed.GetValue(FinishBelow),
            DirectWriteAbove = parsed.GetValue(DirectIo),
            Classes = new Cache.FileClasses(parsed.GetValue(Immutable) ?? [], parsed.GetValue(Volatile) ?? []),
            HeuristicPercent = parsed.GetValue(Heuristic),
            Upkeep = new Cache.Upkeep.UpkeepOptions
            {
                MaxSize = parsed.GetValue(MaxSize),
                MinFree = parsed.GetValue(MinFree),
                Expiry = new Cache.Upkeep.ExpiryOptions { ExpireAfterDays = parsed.GetValue(ExpireAfter), KeepVersions = parsed.GetValue(KeepVersions) },
            },
        };
        return new Settings(host, proxy, cache);
    }

    private static Option<int> Integer(string name, string? alias, string description, int defaultValue, int min, int max, string expected)
    {
        var option = alias is null ? new Option<int>(name) : new Option<int>(name, alias);
        option.Description = description;
        option.DefaultValueFactory = _ => defaultValue;
        option.CustomParser = result => Validate(result, Last(result), expected, (string text, out int value) => int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out value) && value >= min && value <= max);
        return option;
    }

    private static Option<long> Long(string name, string description, long defaultValue) => new(name)
    {
        Description = description,
        DefaultValueFactory = _ => defaultValue,
        CustomParser = result => Validate(result, Last(result), "a number of bytes (0 or more)", (string text, out long value) => long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out value) && value >= 0),
    };

    private static Option<long> Size(string name, string description, long defaultValue) => new(name)
    {
        Description = description,
        DefaultValueFactory = _ => defaultValue,
        CustomParser = result => Validate<long>(result, Last(result), "a size such as 64M, 1G or 0", TryParseSizeOrZero),
    };

    private static bool TryParseSizeOrZero(string text, out long bytes)
    {
        bytes = 0;
        return text.Trim() == "0" || Cache.Upkeep.ByteSize.TryParse(text, out bytes);
    }

    /// <summary>An option without a default: null unless given.</summary>
    private static Option<T?> Optional<T>(string name, string description, string expected, TextParser<T> parse)
        where T : struct => new(name)
        {
            Description = description,
            CustomParser = result => Validate<T?>(result, Last(result), expected, (string text, out T? value) =>
            {
                var ok = parse(text, out var parsed);
                value = parsed;
                return ok;
            }),
        };

    private static Option<int[]> Integers(string name, string description, int min, int max, string expected) => new(name)
    {
        Description = description,
        CustomParser = result => [.. result.Tokens.Select(token => Validate(result, token.Value, expected, (string text, out int value) => int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value) && value >= min && value <= max))],
    };

    private static Option<IPAddress[]> Addresses(string name, string alias, string description, IPAddress defaultValue) => new(name, alias)
    {
        Description = description,
        DefaultValueFactory = _ => [defaultValue],
        CustomParser = result => [.. result.Tokens.Select(token => Validate<IPAddress>(result, token.Value, "an IPv4 address (a dotted quad) or an IPv6 address", Proxy.AddressRange.TryParseAddress))],
    };

    /// <summary>A repeatable option whose values are parsed together by <paramref name="parse"/> (which throws <see cref="FormatException"/>).</summary>
    private static Option<T> Parsed<T>(string name, string description, Func<string[], T> parse, string? alias = null)
    {
        var option = alias is null ? new Option<T>(name) : new Option<T>(name, alias);
        option.Description = description;
        option.AllowMultipleArgumentsPerToken = false;
        option.Arity = ArgumentArity.OneOrMore;
        option.CustomParser = result =>
        {
            try
            {
                return parse([.. result.Tokens.Select(token => token.Value)]);
            }
            catch (FormatException e)
            {
                result.AddError($"{name}: {e.Message}");
                return default!;
            }
        };
        return option;
    }

    private static int Seconds(TimeSpan span) => (int)span.TotalSeconds;

    private static string Last(ArgumentResult result) => result.Tokens.Count == 0 ? string.Empty : result.Tokens[^1].Value;

    /// <summary>Parses one value; a value the parser refuses (false, or a <see cref="FormatException"/>) is the option's error.</summary>
    private static T Validate<T>(ArgumentResult result, string text, string expected, TextParser<T> parse)
    {
        try
        {
            if (parse(text, out var value))
            {
                return value;
            }
        }
        catch (FormatException e)
        {
            result.AddError($"{OptionName(result)}: {e.Message}");
            return default!;
        }

        result.AddError($"{OptionName(result)}: '{text}' is not {expected}");
        return default!;
    }

    private static string OptionName(ArgumentResult result) => (result.Parent as OptionResult)?.Option.Name ?? "option";
}

/// <summary>A parser of one option value: false when the text is not a valid value.</summary>
internal delegate bool TextParser<T>(string text, out T value);
