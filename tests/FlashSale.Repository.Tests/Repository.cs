namespace FlashSale.Repository.Tests;

/// <summary>The repository's root (the folder of FlashSale.sln, found from the test's output folder up) and its documents.</summary>
static class Repository
{
    public static string Root { get; } = FindRoot();

    public static string Readme => Path.Combine(Root, "README.md");

    /// <summary>README.md, docs/**/*.md, services/*/README.md and charts/*/README.md.</summary>
    public static IEnumerable<string> Documents()
    {
        yield return Readme;
        foreach (var file in Directory.EnumerateFiles(Path.Combine(Root, "docs"), "*.md", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
            yield return file;
        foreach (var folder in new[] { "services", "charts" })
            foreach (var project in Directory.EnumerateDirectories(Path.Combine(Root, folder)).Order(StringComparer.Ordinal))
                if (File.Exists(Path.Combine(project, "README.md"))) yield return Path.Combine(project, "README.md");
    }

    public static string Relative(string path) => Path.GetRelativePath(Root, path).Replace('\\', '/');

    static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "FlashSale.sln"))) return dir.FullName;
        throw new InvalidOperationException($"No FlashSale.sln above {AppContext.BaseDirectory}");
    }
}
