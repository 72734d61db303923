using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Replicator.Tests.Proxy.Console;

/// <summary>The console's pages and actions over plain HTTP (issue 16): paging, sorting, search, the jobs, the token.</summary>
public sealed partial class ConsolePagesTests
{
    private static HttpClient Direct() => new(new HttpClientHandler { AllowAutoRedirect = false }) { Timeout = TimeSpan.FromSeconds(30) };

    private static string Console(ProxyFixture proxy, string path) => $"http://{proxy.Endpoint}/.replicator/{path}";

    private static string Host(ProxyFixture proxy) => $"127.0.0.1%3A{proxy.Origin.Port}";

    private static async Task<string> TokenAsync(HttpClient client, ProxyFixture proxy) =>
        TokenField().Match(await client.GetStringAsync(Console(proxy, ""))).Groups[1].Value;

    private static Task<HttpResponseMessage> PostAsync(HttpClient client, ProxyFixture proxy, string action, params (string, string)[] fields) =>
        client.PostAsync(Console(proxy, action), new FormUrlEncodedContent(fields.Select(field => new KeyValuePair<string, string>(field.Item1, field.Item2))));

    [Fact]
    public async Task ADirectoryOf250Files_IsPagedAndSorted_AndSearchedByName()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        for (var i = 0; i < 250; i++)
        {
            proxy.Origin.Files[$"/many/f{i:000}.bin"] = new OriginFile(new byte[100 + i], CacheControl: "max-age=3600");
            await proxy.Client.GetByteArrayAsync(proxy.Origin.Url($"/many/f{i:000}.bin"));
        }

        using var client = Direct();
        var first = await client.GetStringAsync(Console(proxy, $"browse/{Host(proxy)}/many/"));
        Assert.Contains("250 entries, 250 files", first, StringComparison.Ordinal);
        Assert.Equal(100, Rows().Count(first));
        Assert.Contains(">f000.bin</a>", first, StringComparison.Ordinal);
        Assert.Contains("page=1\">next</a>", first, StringComparison.Ordinal);

        var last = await client.GetStringAsync(Console(proxy, $"browse/{Host(proxy)}/many/?sort=name&page=2"));
        Assert.Equal(50, Rows().Count(last));
        Assert.Contains(">f249.bin</a>", last, StringComparison.Ordinal);

        var bySize = await client.GetStringAsync(Console(proxy, $"browse/{Host(proxy)}/many/?sort=size"));
        Assert.Equal("f249.bin", Rows().Match(bySize).Groups[1].Value);

        var found = await client.GetStringAsync(Console(proxy, $"browse/{Host(proxy)}/?q=f12"));
        Assert.Contains("10 files named like", found, StringComparison.Ordinal); // f120 to f129
    }

    [Fact]
    public async Task AnActionWithoutTheToken_IsRefused_AndWithItVerifyRunsAndReports()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        proxy.Origin.Files["/cut.bin"] = new OriginFile(new byte[5000], CacheControl: "max-age=3600");
        await proxy.Client.GetByteArrayAsync(proxy.Origin.Url("/cut.bin"));
        using (var cut = File.OpenWrite(proxy.CachedPath("/cut.bin")))
        {
            cut.SetLength(10);
        }

        using var client = Direct();
        using var forged = await PostAsync(client, proxy, "verify", ("fix", "1"));
        Assert.Equal(HttpStatusCode.Forbidden, forged.StatusCode);
        Assert.Contains("token", await forged.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        using var started = await PostAsync(client, proxy, "verify", ("token", await TokenAsync(client, proxy)), ("fix", "1"));
        Assert.Equal(HttpStatusCode.SeeOther, started.StatusCode);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        JsonElement job;
        do
        {
            job = JsonDocument.Parse(await client.GetStringAsync(Console(proxy, "api/jobs"))).RootElement[0];
            Assert.True(DateTime.UtcNow < deadline, "the job did not end");
        }
        while (job.GetProperty("running").GetBoolean());

        Assert.Contains("1 damaged and moved aside", job.GetProperty("text").GetString(), StringComparison.Ordinal);
        Assert.False(File.Exists(proxy.CachedPath("/cut.bin")));
    }

    [Fact]
    public async Task RevalidateNow_AsksTheOriginWithTheStoredValidator()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        proxy.Origin.Files["/v.txt"] = new OriginFile("v"u8.ToArray(), CacheControl: "max-age=3600", ETag: "\"v1\"");
        await proxy.Client.GetByteArrayAsync(proxy.Origin.Url("/v.txt"));
        using var client = Direct();

        using var reply = await PostAsync(client, proxy, "revalidate", ("token", await TokenAsync(client, proxy)), ("path", $"127.0.0.1:{proxy.Origin.Port}/v.txt"));

        Assert.Equal(HttpStatusCode.SeeOther, reply.StatusCode);
        await proxy.Origin.WaitForRequestsAsync("/v.txt", 2);
        Assert.Equal("\"v1\"", proxy.Origin.Requests.Last(request => request.PathAndQuery == "/v.txt").Headers["If-None-Match"]);
    }

    [Fact]
    public async Task TheLiveDownloads_AreJson()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        var gate = new TaskCompletionSource();
        var file = proxy.Origin.Files["/live.bin"] = new OriginFile(new byte[2 * 1024 * 1024], PauseAt: 512 * 1024, Resume: gate.Task);
        using var follower = proxy.NewClient();
        using var response = await follower.GetAsync(proxy.Origin.Url("/live.bin"), HttpCompletionOption.ResponseHeadersRead);
        await file.Reached.Task.WaitAsync(TimeSpan.FromSeconds(20));
        using var client = Direct();

        var downloads = JsonDocument.Parse(await client.GetStringAsync(Console(proxy, "api/downloads"))).RootElement;

        var live = Assert.Single(downloads.EnumerateArray());
        Assert.Equal(proxy.Origin.Url("/live.bin"), live.GetProperty("url").GetString());
        Assert.Equal(2 * 1024 * 1024, live.GetProperty("total").GetInt64());
        Assert.InRange(live.GetProperty("received").GetInt64(), 1, 512 * 1024);
        Assert.Equal(1, live.GetProperty("clients").GetInt32());
        gate.SetResult();
        await response.Content.ReadAsByteArrayAsync();
    }

    [Theory]
    [InlineData("raw/..%2F..%2F..%2Fetc%2Fpasswd")]
    [InlineData("headers/..%2Fsecret")]
    [InlineData("file/.replicator%2Fusage.db")]
    [InlineData("browse/%2Fetc%2F")]
    public async Task APathOutsideTheTree_IsNotAPage(string target)
    {
        await using var proxy = await ProxyFixture.StartAsync();
        using var client = Direct();

        using var reply = await client.GetAsync(Console(proxy, target));

        Assert.Equal(HttpStatusCode.NotFound, reply.StatusCode);
        Assert.Contains("is not a path of the cache", await reply.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task PurgingAPathOutsideTheTree_RemovesNothing()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        var outside = Path.Combine(Path.GetDirectoryName(proxy.Root)!, "outside.txt");
        await File.WriteAllTextAsync(outside, "not the cache's");
        using var client = Direct();

        using var reply = await PostAsync(client, proxy, "purge", ("token", await TokenAsync(client, proxy)), ("path", "../outside.txt"));

        Assert.Equal(HttpStatusCode.SeeOther, reply.StatusCode);
        Assert.True(File.Exists(outside));
    }

    [GeneratedRegex("name=\"token\" value=\"([0-9a-f]+)\"")]
    private static partial Regex TokenField();

    [GeneratedRegex("<tr><td><a href=\"[^\"]+\">([^<]+)</a></td><td class=\"n\">")]
    private static partial Regex Rows();
}
