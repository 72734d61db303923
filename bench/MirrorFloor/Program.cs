// The least a .NET mirror of a known file list can cost (bench/mirror-vs-wget.sh, FLOOR=1): JOBS GETs at once on
// keep-alive connections, each body written beside its place and renamed in. No listing is read, no metadata kept,
// no lock taken, nothing synced: what is left of a mirror's time when all it does for a file is fetch and place it.
//
//   MirrorFloor ROOT URL-LIST JOBS
using System.Net;

var root = args[0];
var urls = File.ReadAllLines(args[1]);
var jobs = int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture);
using var client = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = jobs, UseProxy = false, AutomaticDecompression = DecompressionMethods.None });
var next = -1;

async Task FetchAsync()
{
    for (int i; (i = Interlocked.Increment(ref next)) < urls.Length;)
    {
        var url = new Uri(urls[i]);
        var body = await client.GetByteArrayAsync(url);
        var path = Path.Combine(root, url.Authority, url.AbsolutePath.TrimStart('/'));
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        await File.WriteAllBytesAsync(path + ".part", body);
        File.Move(path + ".part", path, overwrite: true);
    }
}

await Task.WhenAll(Enumerable.Range(0, jobs).Select(_ => Task.Run(FetchAsync)));
