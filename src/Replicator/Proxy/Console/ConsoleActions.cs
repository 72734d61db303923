using System.Net;
using System.Security.Cryptography;
using System.Text;
using Replicator.Cache.Upkeep;
using Replicator.Http;
using Serilog;

namespace Replicator.Proxy.Console;

/// <summary>
/// What the admin may do from the console (issue 16, point 4): purge a file or everything below a directory,
/// revalidate a file now, run the verification or the expiry of the upkeep (one job at a time, its progress shown
/// live). Only from the --admin addresses, only as a POST carrying the console's token (a page of another site cannot
/// make a browser post here: it does not know the token, which is new at every start).
/// </summary>
internal static class ConsoleActions
{
    private const int MaxForm = 16 * 1024;

    /// <summary>The anti-CSRF token of this process, in every form the console writes.</summary>
    private static readonly string s_token = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));

    /// <summary>Each proxy's job: the one running, or the last one run.</summary>
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<ProxyServer, Job> s_jobs = new();

    /// <summary>The job running or last run, as the dashboard shows it.</summary>
    private sealed class Job(string name)
    {
        public string Name { get; } = name;

        public int Done;

        public string? Result { get; set; }

        public string Text => Result is null ? $"{Name}: running, {Volatile.Read(ref Done)} files so far" : $"{Name}: {Result}";
    }

    public static bool IsAdmin(ProxyServer server, IPAddress? client) => client is not null && server.Options.Admin.Allows(client);

    /// <summary>A job as the dashboard's script reads it.</summary>
    public sealed record JobView(string Name, string Text, bool Running);

    public static IReadOnlyList<JobView> Jobs(ProxyServer server) =>
        s_jobs.TryGetValue(server, out var job) ? [new JobView(job.Name, job.Text, job.Result is null)] : [];

    public static void AppendJobs(StringBuilder html, ProxyServer server, IPAddress? client)
    {
        html.Append("<h2>Upkeep</h2>\n<ul id=\"jobs\">");
        foreach (var job in Jobs(server))
        {
            html.Append("<li>").Append(ConsoleHtml.Encode(job.Text)).Append("</li>");
        }

        html.Append("</ul>\n");
        if (IsAdmin(server, client))
        {
            Form(html, "verify", "Verify every file", ("fix", "1"));
            Form(html, "expire", "Expire unlisted package files now");
        }
    }

    public static void AppendPurge(StringBuilder html, ProxyServer server, IPAddress? client, string path, string label)
    {
        if (IsAdmin(server, client))
        {
            Form(html, "purge", label, ("path", path));
        }
    }

    public static void AppendRevalidate(StringBuilder html, ProxyServer server, IPAddress? client, string path)
    {
        if (IsAdmin(server, client))
        {
            Form(html, "revalidate", "Revalidate now", ("path", path));
        }
    }

    public static async ValueTask<string> RunAsync(Exchange exchange, string action)
    {
        var server = exchange.Server;
        var form = ConsolePages.Form(await ReadFormAsync(exchange));
        if (!IsAdmin(server, exchange.ClientAddress))
        {
            Log.Warning("{Client:l} may not {Action:l} (not in --admin)", exchange.ClientName, action);
            await exchange.SendErrorAsync(403, "actions are allowed from the admin addresses only (--admin)");
            return Outcomes.Pass;
        }

        if (!CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(form.GetValueOrDefault("token") ?? string.Empty), Encoding.ASCII.GetBytes(s_token)))
        {
            await exchange.SendErrorAsync(403, "the form's token is missing or stale: reload the page");
            return Outcomes.Pass;
        }

        var path = form.GetValueOrDefault("path") ?? string.Empty;
        switch (action)
        {
            case "purge":
                var (files, bytes) = await exchange.Fiber.RunBlockingAsync(() => Purge(server, path), Timeout.InfiniteTimeSpan);
                Log.Information("{Client:l} purged {Path:l} from the console: {Files} files, {Bytes} bytes", exchange.ClientName, path, files, bytes);
                var parent = path.TrimEnd('/');
                parent = parent.Contains('/', StringComparison.Ordinal) ? parent[..(parent.LastIndexOf('/') + 1)] : string.Empty;
                return await ConsolePages.RedirectAsync(exchange, $"{ConsoleHtml.Prefix}browse/{ConsoleHtml.PathUrl(parent)}", $"purged {path}: {files} files, {ConsoleHtml.Bytes(bytes)}");
            case "revalidate":
                return await RevalidateAsync(exchange, path);
            case "verify" or "expire":
                var started = StartJob(server, action, form.ContainsKey("fix"));
                return await ConsolePages.RedirectAsync(exchange, ConsoleHtml.Prefix, started ? $"{action} started" : "a job is running already");
            default:
                throw new ProxyException(FailedStep.NoSuchPage, $"{action} is not an action of this console");
        }
    }

    private static (int Files, long Bytes) Purge(ProxyServer server, string path)
    {
        if (path.Length == 0 || !ConsolePages.IsCachePath(path))
        {
            return (0, 0);
        }

        var targets = path.EndsWith('/') ? [.. server.Store.EnumerateBodies().Where(body => body.RelativePath.StartsWith(path, StringComparison.Ordinal)).Select(body => body.RelativePath)] : new List<string> { path };
        var (files, bytes) = (0, 0L);
        foreach (var target in targets)
        {
            var removed = server.Store.Remove(target);
            if (removed >= 0)
            {
                (files, bytes) = (files + 1, bytes + removed);
            }
        }

        return (files, bytes);
    }

    /// <summary>A conditional request for the file now, as stale-while-revalidate makes one (the answer goes to the tree only).</summary>
    private static async ValueTask<string> RevalidateAsync(Exchange exchange, string path)
    {
        var server = exchange.Server;
        var entry = await exchange.Fiber.RunBlockingAsync(() => server.Store.Lookup(path), Timeout.InfiniteTimeSpan);
        if (entry?.Response.Url is not { } url)
        {
            return await ConsolePages.RedirectAsync(exchange, $"{ConsoleHtml.Prefix}file/{ConsoleHtml.PathUrl(path)}", "nothing to revalidate: the file has no stored URL");
        }

        var request = new RequestHead { Method = "GET", Target = url, Version = HttpVersion.Version11, Headers = new HttpHeaders() };
        var revalidating = exchange.InBackground(exchange.Fiber, request, RequestUrl.ParseAbsolute(url, allowHttps: true));
        BackgroundRevalidation.Start(revalidating, entry, path);
        return await ConsolePages.RedirectAsync(exchange, $"{ConsoleHtml.Prefix}file/{ConsoleHtml.PathUrl(path)}", "revalidation started");
    }

    private static bool StartJob(ProxyServer server, string action, bool fix)
    {
        var job = new Job(action);
        lock (s_jobs)
        {
            if (s_jobs.TryGetValue(server, out var running) && running.Result is null)
            {
                return false;
            }

            s_jobs.AddOrUpdate(server, job);
        }

        _ = Task.Run(() =>
        {
            try
            {
                if (action == "verify")
                {
                    var (checkedFiles, damaged) = TreeVerification.Run(server.Store, fix, done => Volatile.Write(ref job.Done, done));
                    job.Result = $"{checkedFiles} files checked, {damaged.Count} damaged{(fix && damaged.Count > 0 ? " and moved aside" : string.Empty)}";
                }
                else
                {
                    var result = Expiry.Run(server.Store, server.Clock, server.CacheOptions.Upkeep.Expiry ?? ExpiryOptions.Defaults, dryRun: false);

                    job.Result = $"{result.Expired.Count} package files expired, {result.Listed} listed, {result.Waiting} kept";
                }
            }
            catch (Exception e)
            {
                job.Result = $"failed: {e.Message}";
            }
        });
        return true;
    }

    private static void Form(StringBuilder html, string action, string label, params (string Name, string Value)[] fields)
    {
        html.Append("<form class=\"inline\" method=\"post\" action=\"").Append(ConsoleHtml.Prefix).Append(action).Append("\">")
            .Append("<input type=\"hidden\" name=\"token\" value=\"").Append(s_token).Append("\">");
        foreach (var (name, value) in fields)
        {
            html.Append("<input type=\"hidden\" name=\"").Append(name).Append("\" value=\"").Append(ConsoleHtml.Encode(value)).Append("\">");
        }

        html.Append("<button id=\"").Append(action).Append("\">").Append(ConsoleHtml.Encode(label)).Append("</button></form>\n");
    }

    private static async ValueTask<string> ReadFormAsync(Exchange exchange)
    {
        var framing = exchange.Request.BodyFraming();
        if (framing.Kind == BodyKind.None)
        {
            return string.Empty;
        }

        var body = new MemoryStream();
        var reader = new BodyReader(exchange.Client, framing);
        while (await reader.ReadAsync(exchange.Fiber, exchange.Timeout, static (piece, stream) =>
        {
            if (stream.Length + piece.Length > MaxForm)
            {
                throw new ProxyException(FailedStep.ClientRequest, "the form is too large");
            }

            stream.Write(piece.Span);
            return ValueTask.CompletedTask;
        }, body))
        {
        }

        return Encoding.UTF8.GetString(body.ToArray());
    }
}
