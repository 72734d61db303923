using System.Diagnostics;
using System.Net;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;

namespace Replicator.Tests;

/// <summary>
/// The real program in a child process (dotnet replicator.dll ...), listening on a port the OS picks; the port is read
/// from its "listening on" line.
/// </summary>
internal sealed partial class ReplicatorProcess : IDisposable
{
    private readonly Process _process;
    private readonly TaskCompletionSource<IPEndPoint> _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<string> _output = [];
    private readonly List<(Func<string, bool> Predicate, TaskCompletionSource Seen)> _awaited = [];

    private ReplicatorProcess(Process process)
    {
        _process = process;
    }

    public IReadOnlyList<string> Output
    {
        get
        {
            lock (_output)
            {
                return [.. _output];
            }
        }
    }

    public Process Process => _process;

    /// <summary>Starts the program with <c>--allow-to 127.0.0.0/8</c> (the tests' origins are on loopback) and the arguments.</summary>
    public static Task<ReplicatorProcess> StartAsync(params string[] args) => StartBareAsync(["--allow-to", "127.0.0.0/8", .. args]);

    /// <summary>Starts the program with exactly these arguments.</summary>
    public static Task<ReplicatorProcess> StartBareAsync(params string[] args) => StartAsync([], args);

    /// <summary>Starts the program with these environment variables set, with <c>--allow-to 127.0.0.0/8</c> and the arguments.</summary>
    public static Task<ReplicatorProcess> StartWithEnvironmentAsync(Dictionary<string, string> environment, params string[] args) =>
        StartAsync(environment, ["--allow-to", "127.0.0.0/8", .. args]);

    /// <summary>Starts a command that does not listen (replicator mirror): its lines are collected, nothing is awaited.</summary>
    public static ReplicatorProcess Begin(params string[] args)
    {
        var process = Launch(args, []);
        var running = new ReplicatorProcess(process);
        process.OutputDataReceived += (_, e) => running.OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => running.OnLine(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return running;
    }

    /// <summary>Waits (bounded) until a file another process writes reaches <paramref name="length"/> bytes.</summary>
    public static async Task WaitForLengthAsync(string path, long length)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!File.Exists(path) || new FileInfo(path).Length < length)
        {
            Assert.True(DateTime.UtcNow < deadline, $"{path} did not reach {length} bytes");
            await Task.Delay(10);
        }
    }

    private static async Task<ReplicatorProcess> StartAsync(Dictionary<string, string> environment, string[] args)
    {
        var process = Launch(args, environment);
        var running = new ReplicatorProcess(process);
        process.OutputDataReceived += (_, e) => running.OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => running.OnLine(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _ = process.WaitForExitAsync().ContinueWith(_ => running._listening.TrySetException(new InvalidOperationException("replicator exited before listening:\n" + string.Join('\n', running.Output))), TaskScheduler.Default);
        await running._listening.Task.WaitAsync(TimeSpan.FromSeconds(30));
        return running;
    }

    /// <summary>Runs the program to completion and returns its exit code and everything it wrote.</summary>
    public static async Task<(int ExitCode, string Stdout, string Stderr)> RunToEndAsync(params string[] args)
    {
        using var process = Launch(args);
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        return (process.ExitCode, await stdout, await stderr);
    }

    /// <summary>
    /// Runs the program to completion on a terminal of its own (script(1) gives it a pseudo-terminal, TERM=xterm):
    /// its exit code and everything the terminal showed.
    /// </summary>
    public static async Task<(int ExitCode, string Output)> RunOnTerminalAsync(string[] args)
    {
        static string Quoted(string word) => "'" + word.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
        var command = string.Join(' ', new[] { "dotnet", Path.Combine(AppContext.BaseDirectory, "replicator.dll") }.Concat(args).Select(Quoted));
        var start = new ProcessStartInfo("script") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in new[] { "--quiet", "--return", "--command", command, "/dev/null" })
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment["TERM"] = "xterm";
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        return (process.ExitCode, await output + await errors);
    }

    public IPEndPoint Endpoint => _listening.Task.Result;

    /// <summary>Completes when the program writes a line that satisfies <paramref name="predicate"/> (or already has).</summary>
    public Task WaitForLineAsync(Func<string, bool> predicate)
    {
        var seen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_output)
        {
            if (_output.Exists(line => predicate(line)))
            {
                seen.SetResult();
            }
            else
            {
                _awaited.Add((predicate, seen));
            }
        }

        return seen.Task.WaitAsync(TimeSpan.FromSeconds(30));
    }

    public void Signal(int signal)
    {
        if (kill(_process.Id, signal) != 0)
        {
            throw new InvalidOperationException($"kill({_process.Id}, {signal}) failed");
        }
    }

    public async Task<int> WaitForExitAsync()
    {
        await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        return _process.ExitCode;
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit();
        }

        _process.Dispose();
    }

    private static Process Launch(string[] args, Dictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "replicator.dll"));
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        foreach (var (name, value) in environment ?? [])
        {
            start.Environment[name] = value;
        }

        return Process.Start(start)!;
    }

    private void OnLine(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.Add(line);
            foreach (var (predicate, seen) in _awaited)
            {
                if (predicate(line))
                {
                    seen.TrySetResult();
                }
            }
        }

        if (ListeningLine().Match(line) is { Success: true } match)
        {
            _listening.TrySetResult(IPEndPoint.Parse(match.Groups[1].Value));
        }
    }

    [GeneratedRegex(@"listening on (\S+),")]
    private static partial Regex ListeningLine();

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int sig);
}
