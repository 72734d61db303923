namespace Replicator.Tests.Proxy;

/// <summary>
/// Issue 12: the real apt-get, twice through the proxy against a repository the test makes (served without
/// validators), each pass with a throwaway apt state: the second pass asks the origin for no package and no by-hash
/// index. Once with apt's proxy setting, once with a mirror URL in the sources list.
/// </summary>
public sealed class AptTests
{
    private const string PackagesXz = "main/binary-amd64/Packages.xz";

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task UpdateAndDownload_Twice_TheSecondPassAsksTheOriginForNoPackage(bool mirrorUrl)
    {
        Assert.True(AptClient.Exists, "apt-get is needed (CI installs it)");
        await using var proxy = await ProxyFixture.StartAsync();
        var repository = new TestRepository("/debian", packages: 5);
        repository.ServeFrom(proxy.Origin);
        var names = repository.Packages.Select(package => package.Name).ToArray();
        var source = mirrorUrl
            ? $"deb [trusted=yes] http://{proxy.Endpoint}/127.0.0.1:{proxy.Origin.Port}/debian stable main"
            : $"deb [trusted=yes] http://127.0.0.1:{proxy.Origin.Port}/debian stable main";

        for (var pass = 0; pass < 2; pass++)
        {
            using var apt = new AptClient(source, mirrorUrl ? null : $"http://{proxy.Endpoint}");
            await apt.RunAsync("update");
            await apt.RunAsync(["download", .. names]);
            foreach (var package in repository.Packages)
            {
                Assert.Equal(package.Body, File.ReadAllBytes(Path.Combine(apt.Downloads, Path.GetFileName(package.Filename))));
            }
        }

        Assert.Equal(1, proxy.Origin.CountRequests(repository.ByHashPath(PackagesXz)));
        Assert.All(repository.Packages, package => Assert.Equal(1, proxy.Origin.CountRequests(repository.UrlPathOf(package))));
        Assert.Equal(2, proxy.Origin.CountRequests($"{repository.Dists}/Release"));
        Assert.Equal("HIT", (await proxy.Accesses.OutcomesAsync(proxy.Origin.Url(repository.UrlPathOf(repository.Packages[4])), 2))[1]);
    }
}
