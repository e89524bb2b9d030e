namespace FlashSale.Monitoring.Tests;

/// <summary>Paths of the monitoring files, found from the test's output folder up to the repository root.</summary>
static class Repository
{
    public static string Root { get; } = FindRoot();

    public static string Chart => Path.Combine(Root, "charts", "flashsale-operator");
    public static string RulesDirectory => Path.Combine(Chart, "files", "prometheus");
    public static string RuleFile => Path.Combine(RulesDirectory, "flashsale-rules.yaml");
    public static string RuleTestFile => Path.Combine(RulesDirectory, "flashsale-rules.test.yaml");
    public static string Dashboard => Path.Combine(Chart, "files", "dashboards", "flashsale-sale.json");
    public static string Runbook => Path.Combine(Root, "docs", "alerts.md");

    static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "FlashSale.sln"))) return dir.FullName;
        throw new InvalidOperationException($"No FlashSale.sln above {AppContext.BaseDirectory}");
    }
}
