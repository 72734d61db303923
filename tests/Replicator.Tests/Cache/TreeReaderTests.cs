using Replicator.Cache;

namespace Replicator.Tests.Cache;

/// <summary>
/// Whether a path of the tree passes through a symbolic link (asked before every write of the tree): the same answer
/// whatever names follow the link, and none for names that are only missing or files.
/// </summary>
public sealed class TreeReaderTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("replicator-tree-").FullName;
    private readonly string _outside = Directory.CreateTempSubdirectory("replicator-outside-").FullName;

    public TreeReaderTests()
    {
        Directory.CreateDirectory(Path.Combine(_root, "h:80/real/deeper"));
        File.WriteAllText(Path.Combine(_root, "h:80/real/file"), "x");
        File.WriteAllText(Path.Combine(_outside, "target"), "outside");
        Directory.CreateSymbolicLink(Path.Combine(_root, "h:80/linked"), _outside);
        File.CreateSymbolicLink(Path.Combine(_root, "h:80/real/last"), Path.Combine(_outside, "target"));
        File.CreateSymbolicLink(Path.Combine(_root, "h:80/real/dangling"), Path.Combine(_outside, "nothing"));
    }

    public void Dispose()
    {
        Directory.Delete(_root, recursive: true);
        Directory.Delete(_outside, recursive: true);
    }

    [Theory]
    [InlineData("h:80/linked", true)]
    [InlineData("h:80/linked/target", true)]
    [InlineData("h:80/linked/missing/below", true)]
    [InlineData("h:80/real/last", true)]
    [InlineData("h:80/real/dangling", true)]
    [InlineData("h:80/real", false)]
    [InlineData("h:80/real/deeper", false)]
    [InlineData("h:80/real/file", false)]
    [InlineData("h:80/real/missing/linked", false)]
    [InlineData("h:80/real/file/below", false)]
    [InlineData("elsewhere:80/a/b", false)]
    public void PassesThroughLink_NamesEveryLinkOnTheWay_AndNothingElse(string relative, bool expected)
    {
        using var tree = new TreeReader(_root);
        Assert.Equal(expected, tree.PassesThroughLink(relative));
    }

    [Fact]
    public void PassesThroughLink_BeforeTheRootExists_IsFalse_AndSeesLinksOnceItDoes()
    {
        var root = Path.Combine(_outside, "later");
        using var tree = new TreeReader(root);
        Assert.False(tree.PassesThroughLink("h:80/a"));

        Directory.CreateDirectory(Path.Combine(root, "h:80"));
        Directory.CreateSymbolicLink(Path.Combine(root, "h:80/a"), _outside);
        Assert.True(tree.PassesThroughLink("h:80/a/target"));
    }
}
