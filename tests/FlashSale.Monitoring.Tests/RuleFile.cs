using YamlDotNet.RepresentationModel;

namespace FlashSale.Monitoring.Tests;

/// <summary>The alerts of the rule file and the alerts its promtool tests expect to fire, read with YamlDotNet.</summary>
static class RuleFile
{
    public sealed record Alert(string Name, string Group, IReadOnlyDictionary<string, string> Annotations);

    public static IReadOnlyList<Alert> Alerts(string path)
    {
        var alerts = new List<Alert>();
        foreach (var group in Sequence(Load(path), "groups"))
        {
            var groupName = Scalar(group, "name") ?? "";
            foreach (var rule in Sequence(group, "rules"))
            {
                if (Scalar(rule, "alert") is not { } name) continue;
                var annotations = Child(rule, "annotations") is YamlMappingNode map
                    ? map.Children.ToDictionary(e => ((YamlScalarNode)e.Key).Value ?? "", e => (e.Value as YamlScalarNode)?.Value ?? "")
                    : [];
                alerts.Add(new Alert(name, groupName, annotations));
            }
        }
        return alerts;
    }

    /// <summary>Names of the alerts some test case expects to fire (a non-empty exp_alerts).</summary>
    public static IReadOnlySet<string> AlertsTestedFiring(string path)
    {
        var firing = new HashSet<string>(StringComparer.Ordinal);
        foreach (var test in Sequence(Load(path), "tests"))
            foreach (var check in Sequence(test, "alert_rule_test"))
                if (Scalar(check, "alertname") is { } name && Child(check, "exp_alerts") is YamlSequenceNode { Children.Count: > 0 })
                    firing.Add(name);
        return firing;
    }

    /// <summary>Names of the alerts some test case expects to stay silent at some time (an empty or missing exp_alerts).</summary>
    public static IReadOnlySet<string> AlertsTestedSilent(string path)
    {
        var silent = new HashSet<string>(StringComparer.Ordinal);
        foreach (var test in Sequence(Load(path), "tests"))
            foreach (var check in Sequence(test, "alert_rule_test"))
                if (Scalar(check, "alertname") is { } name && Child(check, "exp_alerts") is null or YamlSequenceNode { Children.Count: 0 })
                    silent.Add(name);
        return silent;
    }

    public static IReadOnlyList<string> RuleFilesOfTests(string path) =>
        [.. Sequence(Load(path), "rule_files").OfType<YamlScalarNode>().Select(n => n.Value ?? "")];

    static YamlNode Load(string path)
    {
        using var reader = new StreamReader(path);
        var stream = new YamlStream();
        stream.Load(reader);
        return stream.Documents[0].RootNode;
    }

    static YamlNode? Child(YamlNode node, string key) =>
        node is YamlMappingNode map && map.Children.TryGetValue(new YamlScalarNode(key), out var value) ? value : null;

    static string? Scalar(YamlNode node, string key) => (Child(node, key) as YamlScalarNode)?.Value;

    static IEnumerable<YamlNode> Sequence(YamlNode node, string key) => Child(node, key) is YamlSequenceNode s ? s.Children : [];
}
