using System.Net;
using Microsoft.Playwright;

namespace Replicator.Tests.Proxy.Console;

/// <summary>
/// The web console in a real headless Chromium (the system's, driven by Playwright; issue 16): browse to a cached
/// file through the tree and see its stored head, watch a slow download's progress move without a reload, purge a
/// file as admin and see it gone, and be refused as a non-admin.
/// </summary>
public sealed class ConsoleBrowserTests : IAsyncLifetime
{
    private const string Chromium = "/usr/bin/chromium";
    private IPlaywright? _playwright;
    private IBrowser? _browser;

    public async Task InitializeAsync()
    {
        Assert.True(File.Exists(Chromium), "chromium is needed (CI installs it with apt)");
        _playwright = await Playwright.CreateAsync();
        _browser = await _playwright.Chromium.LaunchAsync(new() { ExecutablePath = Chromium, Headless = true, Args = ["--no-sandbox"] });
    }

    public async Task DisposeAsync()
    {
        if (_browser is not null)
        {
            await _browser.DisposeAsync();
        }

        _playwright?.Dispose();
    }

    private async Task<IPage> OpenAsync(ProxyFixture proxy, string path = "/.replicator/")
    {
        var page = await _browser!.NewPageAsync();
        page.SetDefaultTimeout(20_000);
        await page.GotoAsync($"http://{proxy.Endpoint}{path}");
        return page;
    }

    [Fact]
    public async Task BrowsingTheTree_LeadsToACachedFile_ItsStoredHead_AndTheFileFromTheCache()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        proxy.Origin.Files["/docs/readme.txt"] = new OriginFile("read me, from the cache"u8.ToArray(), "text/plain", "max-age=3600", ETag: "\"r1\"");
        await proxy.Client.GetByteArrayAsync(proxy.Origin.Url("/docs/readme.txt"));
        var page = await OpenAsync(proxy);

        await page.ClickAsync($"#hosts a:text('127.0.0.1:{proxy.Origin.Port}/')");
        await page.ClickAsync("#entries a:text('docs/')");
        await page.ClickAsync("#entries a:text('readme.txt')");
        var details = await page.InnerTextAsync("#details");
        Assert.Contains("23 B", details, StringComparison.Ordinal);
        Assert.Contains("fresh for", details, StringComparison.Ordinal);
        Assert.Contains(proxy.Origin.Url("/docs/readme.txt"), details, StringComparison.Ordinal);

        await page.ClickAsync("a:text('stored head')");
        Assert.Contains("ETag: \"r1\"", await page.InnerTextAsync("body"), StringComparison.Ordinal);
        await page.GoBackAsync();
        await page.ClickAsync("a:text('the file, from the cache')");
        Assert.Equal("read me, from the cache", await page.InnerTextAsync("body"));
        Assert.Equal(1, proxy.Origin.CountRequests("/docs/readme.txt"));
    }

    [Fact]
    public async Task ASlowDownload_ShowsItsProgress_MovingWithoutAReload()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        var gate = new TaskCompletionSource();
        var body = TestBodies.Random(16, 4 * 1024 * 1024);
        var file = proxy.Origin.Files["/slow.iso"] = new OriginFile(body, PauseAt: 1024 * 1024, Resume: gate.Task);
        using var client = proxy.NewClient();
        using var response = await client.GetAsync(proxy.Origin.Url("/slow.iso"), HttpCompletionOption.ResponseHeadersRead);
        await file.Reached.Task.WaitAsync(TimeSpan.FromSeconds(20));
        var page = await OpenAsync(proxy);
        await page.EvaluateAsync("window.notReloaded = true");

        var row = page.Locator("#downloads tr", new() { HasText = "/slow.iso" });
        await row.WaitForAsync();
        Assert.Contains("\t1 MiB\t4 MiB\t", await row.InnerTextAsync(), StringComparison.Ordinal);

        gate.SetResult();
        Assert.Equal(body, await response.Content.ReadAsByteArrayAsync());
        await row.WaitForAsync(new() { State = WaitForSelectorState.Detached }); // done: the live table dropped it
        Assert.True(await page.EvaluateAsync<bool>("window.notReloaded === true"));
    }

    [Fact]
    public async Task AnAdmin_PurgesAFile_AndSeesItGone()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        proxy.Origin.Files["/old.deb"] = new OriginFile(new byte[2048], CacheControl: "max-age=3600");
        await proxy.Client.GetByteArrayAsync(proxy.Origin.Url("/old.deb"));
        var path = $"127.0.0.1%3A{proxy.Origin.Port}/old.deb";
        var page = await OpenAsync(proxy, $"/.replicator/file/{path}");

        await page.ClickAsync("button#purge");

        await page.WaitForURLAsync("**/.replicator/browse/**");
        Assert.Contains("purged", await page.InnerTextAsync("body"), StringComparison.Ordinal);
        Assert.False(File.Exists(proxy.CachedPath("/old.deb")));
        Assert.Equal(0, await page.Locator("#entries a:text('old.deb')").CountAsync());
    }

    [Fact]
    public async Task ANonAdmin_SeesNoActions_AndIsRefusedWhenPosting()
    {
        await using var proxy = await ProxyFixture.StartAsync(s => s with { Admin = Replicator.Proxy.ClientAccess.Parse(["10.0.0.0/8"]) });
        proxy.Origin.Files["/kept.deb"] = new OriginFile(new byte[2048], CacheControl: "max-age=3600");
        await proxy.Client.GetByteArrayAsync(proxy.Origin.Url("/kept.deb"));
        var page = await OpenAsync(proxy, $"/.replicator/file/127.0.0.1%3A{proxy.Origin.Port}/kept.deb");

        Assert.Equal(0, await page.Locator("button#purge").CountAsync());
        var status = await page.EvaluateAsync<int>(
            "async path => (await fetch('/.replicator/purge', { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'path=' + encodeURIComponent(path) })).status",
            $"127.0.0.1:{proxy.Origin.Port}/kept.deb");

        Assert.Equal((int)HttpStatusCode.Forbidden, status);
        Assert.True(File.Exists(proxy.CachedPath("/kept.deb")));
    }
}
