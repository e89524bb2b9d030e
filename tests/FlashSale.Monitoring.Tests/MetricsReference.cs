namespace FlashSale.Monitoring.Tests;

/// <summary>docs/metrics.md's tables: rows "| `name` | type | `label`, `label` | meaning |".</summary>
static partial class MetricsReference
{
    public static string Path => System.IO.Path.Combine(Repository.Root, "docs", "metrics.md");

    public static IReadOnlyDictionary<string, (string Type, IReadOnlySet<string> Labels)> Read()
    {
        var rows = new Dictionary<string, (string, IReadOnlySet<string>)>(StringComparer.Ordinal);
        foreach (Match row in Row().Matches(File.ReadAllText(Path)))
        {
            var labels = Regex.Matches(row.Groups[3].Value, "`([^`]+)`").Select(m => m.Groups[1].Value).ToHashSet(StringComparer.Ordinal);
            Assert.True(rows.TryAdd(row.Groups[1].Value, (row.Groups[2].Value, labels)), $"{row.Groups[1].Value} is documented twice");
        }
        return rows;
    }

    [GeneratedRegex(@"^\| `([a-z_:][a-z0-9_:]*)` \| (counter|gauge|histogram) \|([^|]*)\|", RegexOptions.Multiline)]
    private static partial Regex Row();
}
