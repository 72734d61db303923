using System.CommandLine;
using Replicator.Mirror;

namespace Replicator.Hosting;

/// <summary>
/// <c>replicator mirror URL... --root DIR</c> and <c>replicator mirror apt URL --suite ... --component ... --arch ...</c>
/// (issue 15): the command line of the mirror. The proxy's options that apply to fetching (--root, --timeout,
/// --external, --limit, the address rules, --ca-file, the file classes, --alias/--flat) are the very same option
/// objects as the proxy's (<see cref="CommandOptions"/>), turned into the same settings, so both agree.
/// </summary>
internal static class MirrorCommand
{
    public static int Run(string[] args)
    {
        var proxyOptions = new CommandOptions();
        Option[] shared =
        [
            proxyOptions.Root, proxyOptions.Timeout, proxyOptions.UpstreamHeadTimeout, proxyOptions.External, proxyOptions.Limit,
            proxyOptions.AllowTo, proxyOptions.AllowPort, proxyOptions.CaFile, proxyOptions.Immutable, proxyOptions.Volatile,
            proxyOptions.Aliases, proxyOptions.Flat, proxyOptions.Heuristic, proxyOptions.DirectIo,
        ];
        var jobs = Count("--jobs", "downloads at once", 4);
        var perHost = Count("--per-host", "downloads at once from one host", 2);
        var include = new Option<string[]>("--include") { Description = "GLOB: fetch only files below the start URL that match (repeatable)", Arity = ArgumentArity.OneOrMore };
        var exclude = new Option<string[]>("--exclude") { Description = "GLOB: skip files and directories below the start URL that match (repeatable)", Arity = ArgumentArity.OneOrMore };
        var maxDepth = new Option<int?>("--max-depth") { Description = "directory levels below the start URL to follow" };
        var maxFileSize = new Option<string?>("--max-file-size") { Description = "SIZE (K, M, G, T): skip larger files" };
        var delete = new Option<bool>("--delete") { Description = "remove files below the start URL that the server no longer lists" };
        var dryRun = new Option<bool>("--dry-run") { Description = "list what would be fetched (and deleted) and its total size; store nothing" };
        var urls = new Argument<string[]>("URL") { Description = "http:// or https:// URLs: a directory (ending in /) is walked through its listings", Arity = ArgumentArity.OneOrMore };
        var suites = List("--suite", "suites (dists/SUITE), comma-separated or repeated", null);
        var components = List("--component", "components, comma-separated or repeated", "main");
        var architectures = List("--arch", "architectures, comma-separated or repeated", "amd64,all");
        var packages = List("--packages", "these packages and everything they depend on, instead of all", null);
        var source = new Option<bool>("--source") { Description = "the Sources indexes and the chosen packages' sources too" };
        var repository = new Argument<string>("URL") { Description = "the repository's root (above dists/ and pool/)" };

        var apt = new Command("apt", "mirror an apt repository: its Release, indexes and package files, verified") { repository, suites, components, architectures, packages, source, jobs, perHost, dryRun };
        var tree = new Command("mirror", "replicate remote trees into the cache, ready for offline use") { urls, include, exclude, maxDepth, maxFileSize, delete, jobs, perHost, dryRun, apt };
        foreach (var option in shared)
        {
            tree.Add(option);
            apt.Add(option);
        }

        // Run below, not by System.CommandLine: an action only makes "mirror" a command that may run without "apt".
        tree.SetAction(_ => 0);
        apt.SetAction(_ => 0);

        var parsed = new RootCommand("Replicator: a caching HTTP mirror proxy") { tree }.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            throw new UsageException(parsed.Errors[0].Message);
        }

        if (parsed.Action is System.CommandLine.Help.HelpAction)
        {
            return parsed.Invoke();
        }

        // The shared options, as given, parsed by the proxy's own command into the proxy's settings.
        var given = new List<string>();
        foreach (var option in shared)
        {
            if (parsed.GetResult(option) is { Implicit: false } result)
            {
                given.Add(option.Name);
                given.AddRange(result.Tokens.Select(token => token.Value));
            }
        }

        var proxyParsed = proxyOptions.Command.Parse(given);
        if (proxyParsed.Errors.Count > 0)
        {
            throw new UsageException(proxyParsed.Errors[0].Message);
        }

        var settings = proxyOptions.ToSettings(proxyParsed, [.. given]);
        var isApt = parsed.CommandResult.Command == apt;
        var targets = isApt ? [Url(parsed.GetValue(repository)!)] : parsed.GetValue(urls)!.Select(Url).ToList();
        var treeOptions = new TreeMirrorOptions
        {
            Include = parsed.GetValue(include) ?? [],
            Exclude = parsed.GetValue(exclude) ?? [],
            MaxDepth = parsed.GetValue(maxDepth),
            MaxFileSize = parsed.GetValue(maxFileSize) is { } size ? Cache.Upkeep.ByteSize.TryParse(size, out var bytes) ? bytes : throw new UsageException($"--max-file-size: '{size}' is not a size such as 50M") : null,
            Delete = parsed.GetValue(delete),
        };
        var aptOptions = isApt
            ? new AptMirrorOptions
            {
                Suites = parsed.GetValue(suites) is { Count: > 0 } named ? named : throw new UsageException("mirror apt: --suite is required"),
                Components = parsed.GetValue(components)!,
                Architectures = parsed.GetValue(architectures)!,
                Packages = parsed.GetValue(packages) is { Count: > 0 } wanted ? wanted : null,
                Source = parsed.GetValue(source),
            }
            : null;

        using var cancel = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            // Ctrl-C: stop; what arrived stays in the partials, and the next run continues from there.
            e.Cancel = true;
            cancel.Cancel();
        };
        return RunAsync(settings, targets, treeOptions, aptOptions, parsed.GetValue(jobs), parsed.GetValue(perHost), parsed.GetValue(dryRun), cancel.Token).GetAwaiter().GetResult();
    }

    private static async Task<int> RunAsync(Settings settings, IReadOnlyList<Uri> targets, TreeMirrorOptions treeOptions, AptMirrorOptions? aptOptions, int jobs, int perHost, bool dryRun, CancellationToken cancel)
    {
        // The mirror's own proxy keeps no usage (no walk of the tree at each run, no second writer of the database),
        // expires nothing and caps nothing: a proxy running on the root does that, and adopts what the mirror stored.
        var cache = settings.Cache with { Upkeep = settings.Cache.Upkeep with { Enabled = false } };
        await using var proxy = new EmbeddedProxy(settings.Proxy, cache, loops: 2);
        await using var report = new MirrorReport(Console.Out, live: OnTerminal(), dryRun);
        using var fetcher = new Fetcher(proxy, jobs, perHost, report) { DryRun = dryRun };
        var complete = true;
        try
        {
            foreach (var target in targets)
            {
                complete &= aptOptions is not null
                    ? await AptMirror.RunAsync(fetcher, target, aptOptions, cancel)
                    : await TreeMirror.RunAsync(proxy, fetcher, target, treeOptions, cancel);
            }
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            report.Note("interrupted: run the same command again to continue");
            complete = false;
        }

        complete &= await report.SummarizeAsync();
        return complete ? 0 : 1;
    }

    /// <summary>Whether standard output is a terminal that can take the live view (not a pipe, a file, or TERM=dumb).</summary>
    private static bool OnTerminal() =>
        !Console.IsOutputRedirected && Environment.GetEnvironmentVariable("TERM") is { Length: > 0 } term && term != "dumb";

    private static Uri Url(string text) =>
        Uri.TryCreate(text, UriKind.Absolute, out var url) && (url.Scheme == Uri.UriSchemeHttp || url.Scheme == Uri.UriSchemeHttps)
            ? url
            : throw new UsageException($"mirror: '{text}' is not an http:// or https:// URL");

    private static Option<int> Count(string name, string description, int defaultValue) => new(name)
    {
        Description = $"{description} (default {defaultValue})",
        DefaultValueFactory = _ => defaultValue,
        Validators = { result => { if (result.GetValueOrDefault<int>() < 1) { result.AddError($"{name}: must be 1 or more"); } } },
    };

    private static Option<IReadOnlyList<string>> List(string name, string description, string? defaultValue) => new(name)
    {
        Description = description,
        Arity = ArgumentArity.OneOrMore,
        CustomParser = result => [.. result.Tokens.SelectMany(token => token.Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))],
        DefaultValueFactory = _ => defaultValue is null ? [] : defaultValue.Split(','),
    };
}
