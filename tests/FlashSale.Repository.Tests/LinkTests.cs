namespace FlashSale.Repository.Tests;

/// <summary>Every link of the documentation leads somewhere: relative links to a file or folder of the repository (and to
/// a heading of it), external ones well-formed (they are not fetched: no network here).</summary>
public sealed class LinkTests
{
    [Fact]
    public void EveryLinkOfTheDocumentationResolves()
    {
        var broken = Repository.Documents().SelectMany(Broken).ToList();
        Assert.True(broken.Count == 0, $"{broken.Count} broken links:\n{string.Join('\n', broken)}");
    }

    [Fact]
    public void TheDocumentationHasLinksToCheck()
    {
        var documents = Repository.Documents().Select(Repository.Relative).ToList();
        Assert.Contains("README.md", documents);
        Assert.Contains("docs/architecture.md", documents);
        Assert.Contains("charts/flashsale-operator/README.md", documents);
        Assert.NotEmpty(Markdown.Links(File.ReadAllText(Repository.Readme)));
    }

    [Theory]
    [InlineData("Answers of the order endpoint", "answers-of-the-order-endpoint")]
    [InlineData("`make run`: the whole sale", "make-run-the-whole-sale")]
    [InlineData("Lost sale / restore", "lost-sale--restore")]
    [InlineData("FlashSaleOperatorNoLeader", "flashsaleoperatornoleader")]
    [InlineData("Users:Admin_* and [docs](x.md)", "usersadmin_-and-docs")]
    public void AHeadingsAnchorFollowsGitHubsRule(string heading, string anchor) => Assert.Equal(anchor, Markdown.Anchor(heading));

    [Fact]
    public void ABrokenLinkIsReported()
    {
        var folder = Directory.CreateTempSubdirectory("flashsale-links-");
        try
        {
            File.WriteAllText(Path.Combine(folder.FullName, "target.md"), "# Target\n\n## A section\n");
            var page = Path.Combine(folder.FullName, "page.md");
            File.WriteAllText(page, """
                # Page
                [fine](target.md#a-section) [fine too](#page) [external](https://example.org/x)
                `[in code](missing.md)`
                ```
                [in a fence](missing.md)
                ```
                [no file](missing.md) [no heading](target.md#nowhere) [no heading here](#nowhere) [bad](https://)
                """);
            var broken = Broken(page).ToList();
            Assert.Equal(4, broken.Count);
            Assert.All(broken, b => Assert.Contains(":7:", b));
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    static IEnumerable<string> Broken(string document)
    {
        var text = File.ReadAllText(document);
        foreach (var link in Markdown.Links(text))
            if (Problem(document, text, link.Target) is { } problem)
                yield return $"{Repository.Relative(document)}:{link.Line}: ({link.Target}) {problem}";
    }

    static string? Problem(string document, string text, string target)
    {
        target = target.Trim('<', '>');
        if (target.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || target.StartsWith("https://", StringComparison.OrdinalIgnoreCase))
            return Uri.TryCreate(target, UriKind.Absolute, out var uri) && uri.Host.Length > 0 ? null : "is not a well-formed URL";
        if (target.StartsWith("mailto:", StringComparison.OrdinalIgnoreCase)) return null;
        if (target.Contains("://", StringComparison.Ordinal)) return "is neither a relative link nor http(s)";

        var hash = target.IndexOf('#');
        var path = Uri.UnescapeDataString(hash < 0 ? target : target[..hash]);
        var anchor = hash < 0 ? null : target[(hash + 1)..];
        var file = path.Length == 0 ? document
            : Path.GetFullPath(path.StartsWith('/') ? Path.Combine(Repository.Root, path.TrimStart('/')) : Path.Combine(Path.GetDirectoryName(document)!, path));
        if (!File.Exists(file)) return Directory.Exists(file) && anchor is null ? null : "names no file";
        if (anchor is null) return null;
        if (!file.EndsWith(".md", StringComparison.OrdinalIgnoreCase)) return "has an anchor into a file that is not Markdown";
        var anchors = Markdown.Anchors(file == document ? text : File.ReadAllText(file));
        return anchors.Contains(Uri.UnescapeDataString(anchor).ToLowerInvariant()) ? null : $"names no heading of {Path.GetFileName(file)}";
    }
}
