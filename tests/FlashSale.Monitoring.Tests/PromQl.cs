using System.Text.Json;
using YamlDotNet.RepresentationModel;

namespace FlashSale.Monitoring.Tests;

/// <summary>The queries of the rule file and the dashboard, and the metric names they read.</summary>
static partial class PromQl
{
    static readonly HashSet<string> Keywords = ["by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "offset", "bool", "inf", "nan"];

    /// <summary>Every target expression of the dashboard, with its panel's title.</summary>
    public static IReadOnlyList<(string Panel, string Expr)> DashboardQueries()
    {
        var dashboard = JsonDocument.Parse(File.ReadAllText(Repository.Dashboard)).RootElement;
        return [.. dashboard.GetProperty("panels").EnumerateArray()
            .SelectMany(p => p.GetProperty("targets").EnumerateArray().Select(t => (p.GetProperty("title").GetString()!, t.GetProperty("expr").GetString()!)))];
    }

    /// <summary>Every rule's expression (alerts and recording rules).</summary>
    public static IReadOnlyList<string> RuleExpressions()
    {
        using var reader = new StreamReader(Repository.RuleFile);
        var stream = new YamlStream();
        stream.Load(reader);
        var root = (YamlMappingNode)stream.Documents[0].RootNode;
        return [.. ((YamlSequenceNode)root["groups"]).Children.Cast<YamlMappingNode>()
            .SelectMany(g => ((YamlSequenceNode)g["rules"]).Children.Cast<YamlMappingNode>())
            .Select(r => ((YamlScalarNode)r["expr"]).Value!)];
    }

    /// <summary>
    /// The metric names an expression reads: identifiers left once label matchers, strings, ranges and grouping clauses
    /// are removed, that are neither functions (followed by a parenthesis) nor keywords.
    /// </summary>
    public static IEnumerable<string> Metrics(string expr)
    {
        var bare = Strings().Replace(expr, " "); // first: a route's "{sale}" is no matcher
        bare = Matchers().Replace(bare, " ");
        bare = Ranges().Replace(bare, " ");
        bare = Groupings().Replace(bare, " ");
        foreach (Match m in Identifiers().Matches(bare))
        {
            var name = m.Groups[1].Value;
            if (Keywords.Contains(name) || m.Groups[2].Success) continue;
            yield return name;
        }
    }

    [GeneratedRegex(@"\{[^}]*\}")]
    private static partial Regex Matchers();

    [GeneratedRegex("\"[^\"]*\"")]
    private static partial Regex Strings();

    [GeneratedRegex(@"\[[^\]]*\]")]
    private static partial Regex Ranges();

    [GeneratedRegex(@"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")]
    private static partial Regex Groupings();

    [GeneratedRegex(@"(?<![\w.$])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?")]
    private static partial Regex Identifiers();
}
