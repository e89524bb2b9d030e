namespace FlashSale.Monitoring.Tests;

/// <summary>The Prometheus text format as the services write it: families (# TYPE) and their series.</summary>
static partial class Exposition
{
    public sealed record Family(string Name, string Type, IReadOnlySet<string> Labels);

    /// <summary>The families of one /metrics text, with the label names of their series (le of histograms left out).</summary>
    public static IEnumerable<Family> Families(string text)
    {
        var types = TypeLine().Matches(text).ToDictionary(m => m.Groups[1].Value, m => m.Groups[2].Value);
        foreach (var (name, type) in types)
        {
            var labels = new HashSet<string>(StringComparer.Ordinal);
            foreach (Match series in Regex.Matches(text, $@"^{Regex.Escape(name)}(?:_bucket|_sum|_count)?\{{([^}}]*)\}}", RegexOptions.Multiline))
                foreach (Match label in Label().Matches(series.Groups[1].Value))
                    if (label.Groups[1].Value != "le") labels.Add(label.Groups[1].Value);
            yield return new Family(name, type, labels);
        }
    }

    /// <summary>The names a query can select: the family's name, and for a histogram its _bucket, _sum and _count.</summary>
    public static IEnumerable<string> SeriesNames(string text) =>
        Families(text).SelectMany(f => f.Type == "histogram" ? new[] { f.Name + "_bucket", f.Name + "_sum", f.Name + "_count" } : [f.Name]);

    [GeneratedRegex(@"^# TYPE (\S+) (\S+)$", RegexOptions.Multiline)]
    private static partial Regex TypeLine();

    [GeneratedRegex(@"([a-zA-Z_][a-zA-Z0-9_]*)=""(?:[^""\\]|\\.)*""")]
    private static partial Regex Label();
}
