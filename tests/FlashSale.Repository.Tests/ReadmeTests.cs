namespace FlashSale.Repository.Tests;

/// <summary>The README is a newcomer's page that links out; reference lives in docs/.</summary>
public sealed class ReadmeTests
{
    [Fact]
    public void TheReadmeHasAtMost150Lines()
    {
        var lines = File.ReadAllLines(Repository.Readme).Length;
        Assert.True(lines <= 150, $"README.md has {lines} lines; move reference to docs/ and link it");
    }
}
