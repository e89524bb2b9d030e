using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace FlashSale.Kubernetes.Fake;

/// <summary>The label selector grammar of list and watch: a=b, a==b, a!=b, a in (x,y), a notin (x), a, !a; requirements ANDed.</summary>
sealed partial class LabelSelector
{
    readonly List<Func<IReadOnlyDictionary<string, string>, bool>> _requirements = [];

    public static LabelSelector Everything { get; } = new();

    public static LabelSelector Parse(string? text)
    {
        var selector = new LabelSelector();
        if (string.IsNullOrWhiteSpace(text))
        {
            return selector;
        }

        foreach (var raw in SplitTopLevel(text))
        {
            var part = raw.Trim();
            Match match;
            if ((match = SetRequirement().Match(part)).Success)
            {
                var key = match.Groups[1].Value;
                var values = match.Groups[3].Value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).ToHashSet();
                var isIn = match.Groups[2].Value == "in";
                selector._requirements.Add(isIn
                    ? labels => labels.TryGetValue(key, out var v) && values.Contains(v)
                    : labels => !labels.TryGetValue(key, out var v) || !values.Contains(v));
            }
            else if ((match = EqualityRequirement().Match(part)).Success)
            {
                var key = match.Groups[1].Value;
                var value = match.Groups[3].Value;
                selector._requirements.Add(match.Groups[2].Value == "!="
                    ? labels => !labels.TryGetValue(key, out var v) || v != value
                    : labels => labels.TryGetValue(key, out var v) && v == value);
            }
            else if ((match = ExistsRequirement().Match(part)).Success)
            {
                var key = match.Groups[2].Value;
                selector._requirements.Add(match.Groups[1].Value == "!" ? labels => !labels.ContainsKey(key) : labels => labels.ContainsKey(key));
            }
            else
            {
                throw new ApiError(400, "BadRequest", $"unable to parse requirement: \"{part}\" in label selector \"{text}\"");
            }
        }

        return selector;
    }

    public bool Matches(JsonObject? obj)
    {
        if (_requirements.Count == 0)
        {
            return true;
        }

        var labels = new Dictionary<string, string>();
        if (obj?["metadata"]?["labels"] is JsonObject map)
        {
            foreach (var (key, value) in map)
            {
                labels[key] = value?.ToString() ?? string.Empty;
            }
        }

        return _requirements.All(r => r(labels));
    }

    static IEnumerable<string> SplitTopLevel(string text)
    {
        var depth = 0;
        var start = 0;
        for (var i = 0; i < text.Length; i++)
        {
            switch (text[i])
            {
                case '(':
                    depth++;
                    break;
                case ')':
                    depth--;
                    break;
                case ',' when depth == 0:
                    yield return text[start..i];
                    start = i + 1;
                    break;
            }
        }

        yield return text[start..];
    }

    [GeneratedRegex(@"^([^\s!=(),]+)\s+(in|notin)\s*\(([^)]*)\)$")]
    private static partial Regex SetRequirement();

    [GeneratedRegex(@"^([^\s!=(),]+)\s*(==|=|!=)\s*([^\s,()]*)$")]
    private static partial Regex EqualityRequirement();

    [GeneratedRegex(@"^(!?)\s*([^\s!=(),]+)$")]
    private static partial Regex ExistsRequirement();
}

/// <summary>metadata.name and metadata.namespace field selectors, the ones every kind supports.</summary>
sealed class FieldSelector
{
    readonly List<(string Field, string Value, bool Equal)> _terms = [];

    public static FieldSelector Parse(string? text)
    {
        var selector = new FieldSelector();
        if (string.IsNullOrWhiteSpace(text))
        {
            return selector;
        }

        foreach (var part in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var notEqual = part.Contains("!=", StringComparison.Ordinal);
            var pieces = part.Split(notEqual ? "!=" : part.Contains("==", StringComparison.Ordinal) ? "==" : "=", 2);
            if (pieces.Length != 2 || pieces[0] is not ("metadata.name" or "metadata.namespace"))
            {
                throw new ApiError(400, "BadRequest", $"field label not supported by the fake API server: \"{part}\"");
            }

            selector._terms.Add((pieces[0], pieces[1], !notEqual));
        }

        return selector;
    }

    public bool Matches(JsonObject obj) => _terms.All(t =>
    {
        var actual = obj["metadata"]?[t.Field["metadata.".Length..]]?.ToString() ?? string.Empty;
        return (actual == t.Value) == t.Equal;
    });
}
