using System.CommandLine;
using System.Net;

namespace Replicator.Hosting;

/// <summary>
/// The command line: System.CommandLine parses, this class turns the result into <see cref="Settings"/>. A bad value
/// is one line on stderr naming the option, and exit code 2.
/// </summary>
internal static class ReplicatorCommand
{
    public const int UsageError = 2;

    public static int Run(string[] args, Func<Settings, int> run)
    {
        var port = new Option<int>("--port", "-p") { Description = "TCP port to listen on (0: any free port)", DefaultValueFactory = _ => 8080 };
        var bind = new Option<string[]>("--bind", "-b") { Description = "address to listen on, IPv4 or IPv6 (repeatable)", DefaultValueFactory = _ => ["127.0.0.1"] };
        var root = new Option<string>("--root", "-r") { Description = "cache root directory (created if missing)", DefaultValueFactory = _ => "cache" };
        var timeout = new Option<int>("--timeout", "-t") { Description = "inactivity timeout of each socket wait, in seconds", DefaultValueFactory = _ => 15 };
        var threads = new Option<int>("--threads") { Description = "engine loops (threads); default two per core", DefaultValueFactory = _ => Settings.DefaultThreads };
        var verbose = new Option<int>("--verbose", "-v") { Description = "more output: -v protocol decisions, -vv every header line", Arity = ArgumentArity.Zero, AllowMultipleArgumentsPerToken = true };
        var debug = new Option<bool>("--debug") { Description = "write each fiber's lines at once, prefixed with its id, instead of one block per connection" };
        var staticMode = new Option<bool>("--static") { Description = "serve a complete cached file without asking the origin" };
        var offline = new Option<bool>("--offline") { Description = "never connect upstream: serve what is cached, 504 for anything else" };
        var connectPorts = new Option<int[]>("--connect-port") { Description = "a port CONNECT tunnels may reach (repeatable)", DefaultValueFactory = _ => [443] };
        var finishBelow = new Option<long>("--finish-below") { Description = "bytes: a download whose last client left still finishes when it is this small (or over half done)", DefaultValueFactory = _ => 16 * 1024 * 1024 };
        var allowedClients = new Option<string[]>("--ip") { Description = "clients allowed to use the proxy, as CIDR (192.168.0.0/16, ::1/128) or wildcard (192.168.*.*) (repeatable; default: loopback only)" };
        var logFile = new Option<string?>("--log") { Description = "append the log to FILE instead of standard output; SIGHUP reopens it (logrotate)" };
        var pidFile = new Option<string?>("--pid") { Description = "write the process id to FILE (removed at exit)" };
        var limit = new Option<double>("--limit") { Description = "cap each upstream transfer at KBPS KiB/s (0: no limit)" };
        var external = new Option<string?>("--external", "-e") { Description = "parent proxy [user:pass@]host:port: every upstream request (and CONNECT) goes through it" };
        var aliases = new Option<string[]>("--alias", "-a") { Description = "PATH:PREFIX1[:PREFIX2...]: keep the files below these host[:port]/path prefixes in ROOT/PATH (repeatable)" };
        var flat = new Option<bool>("--flat") { Description = "keep every file in ROOT by its last name; a different file of the same name is never overwritten" };

        var command = new RootCommand("Replicator: a caching HTTP mirror proxy") { port, bind, root, timeout, threads, verbose, debug, staticMode, offline, connectPorts, finishBelow, allowedClients, logFile, pidFile, limit, external, aliases, flat };
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

        var portValue = parsed.GetValue(port);
        if (portValue is < 0 or > 65535)
        {
            return Fail($"--port: {portValue} is not a TCP port (0-65535)");
        }

        var endpoints = new List<IPEndPoint>();
        foreach (var address in parsed.GetValue(bind)!)
        {
            if (!IPAddress.TryParse(address.Trim('[', ']'), out var ip))
            {
                return Fail($"--bind: '{address}' is not an IPv4 or IPv6 address");
            }

            endpoints.Add(new IPEndPoint(ip, portValue));
        }

        var timeoutValue = parsed.GetValue(timeout);
        if (timeoutValue <= 0)
        {
            return Fail($"--timeout: {timeoutValue} must be a positive number of seconds");
        }

        var threadsValue = parsed.GetValue(threads);
        if (threadsValue is < 1 or > 1024)
        {
            return Fail($"--threads: {threadsValue} must be between 1 and 1024");
        }

        var connectPortValues = parsed.GetValue(connectPorts)!;
        foreach (var connectPort in connectPortValues)
        {
            if (connectPort is < 1 or > 65535)
            {
                return Fail($"--connect-port: {connectPort} is not a TCP port (1-65535)");
            }
        }

        var limitValue = parsed.GetValue(limit);
        if (limitValue < 0 || double.IsNaN(limitValue) || double.IsInfinity(limitValue))
        {
            return Fail($"--limit: {limitValue} must be a positive number of KiB/s (0: no limit)");
        }

        Proxy.ParentProxy? parent = null;
        try
        {
            parent = parsed.GetValue(external) is { } value ? Proxy.ParentProxy.Parse(value) : null;
        }
        catch (FormatException e)
        {
            return Fail($"--external: {e.Message}");
        }

        var parsedAliases = new List<(string, string[])>();
        foreach (var alias in parsed.GetValue(aliases) ?? [])
        {
            try
            {
                parsedAliases.Add(Cache.PathMapping.ParseAlias(alias));
            }
            catch (FormatException e)
            {
                return Fail($"--alias: {e.Message}");
            }
        }

        Proxy.ClientAccess access;
        try
        {
            access = Proxy.ClientAccess.Parse(parsed.GetValue(allowedClients) ?? []);
        }
        catch (FormatException e)
        {
            return Fail($"--ip: {e.Message}");
        }

        return run(new Settings
        {
            Endpoints = endpoints,
            Root = Path.GetFullPath(parsed.GetValue(root)!),
            Timeout = TimeSpan.FromSeconds(timeoutValue),
            Threads = threadsValue,
            // Repeatable and bundled (-v, -vv, -v -v, --verbose): counted from the arguments themselves.
            Verbosity = args.Sum(arg => arg == "--verbose" ? 1 : arg.Length > 1 && arg[0] == '-' && arg[1..].All(c => c == 'v') ? arg.Length - 1 : 0),
            Debug = parsed.GetValue(debug),
            Static = parsed.GetValue(staticMode) || parsed.GetValue(offline),
            Offline = parsed.GetValue(offline),
            ConnectPorts = connectPortValues.ToHashSet(),
            FinishBelow = Math.Max(0, parsed.GetValue(finishBelow)),
            Access = access,
            Limit = (long)(limitValue * 1024),
            External = parent,
            Mapping = new Cache.PathMapping(parsedAliases, parsed.GetValue(flat)),
            LogFile = parsed.GetValue(logFile) is { } log ? Path.GetFullPath(log) : null,
            PidFile = parsed.GetValue(pidFile) is { } pid ? Path.GetFullPath(pid) : null,
        });
    }

    private static int Fail(string message)
    {
        Console.Error.WriteLine($"replicator: {message}");
        return UsageError;
    }
}
