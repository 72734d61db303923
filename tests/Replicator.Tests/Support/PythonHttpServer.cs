using System.Diagnostics;
using System.Text.RegularExpressions;

namespace Replicator.Tests;

/// <summary>
/// A real web server with directory listings: Python's http.server serving a directory on 127.0.0.1, on a port the
/// OS chooses (it says which in its first line). It answers Last-Modified and If-Modified-Since, as servers do.
/// </summary>
internal sealed partial class PythonHttpServer : IDisposable
{
    private readonly Process _process;

    private PythonHttpServer(Process process, int port)
    {
        _process = process;
        Port = port;
    }

    public int Port { get; }

    public string Url(string path) => $"http://127.0.0.1:{Port}{path}";

    public static bool Exists => File.Exists("/usr/bin/python3");

    public static async Task<PythonHttpServer> StartAsync(string directory)
    {
        var start = new ProcessStartInfo("python3", ["-u", "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory", directory])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        var process = Process.Start(start)!;
        process.ErrorDataReceived += (_, _) => { }; // its request log: read and dropped, so that it never blocks
        process.BeginErrorReadLine();
        var line = await process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(20))
            ?? throw new InvalidOperationException("python3 -m http.server ended before listening");
        return new PythonHttpServer(process, int.Parse(PortOf().Match(line).Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
    }

    public void Dispose()
    {
        _process.Kill();
        _process.WaitForExit();
        _process.Dispose();
    }

    [GeneratedRegex(@" port (\d+) ")]
    private static partial Regex PortOf();
}
