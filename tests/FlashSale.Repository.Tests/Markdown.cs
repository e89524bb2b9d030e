using System.Text;
using System.Text.RegularExpressions;

namespace FlashSale.Repository.Tests;

/// <summary>The little of Markdown the link check needs: links outside code, and headings as GitHub anchors them.</summary>
static partial class Markdown
{
    public sealed record Link(int Line, string Target);

    /// <summary>Inline links and images <c>[text](target "title")</c>, reference definitions <c>[x]: target</c> and
    /// autolinks <c>&lt;https://...&gt;</c>; fenced code blocks and code spans are skipped.</summary>
    public static IEnumerable<Link> Links(string text)
    {
        var lineNumber = 0;
        foreach (var (line, inFence) in Lines(text))
        {
            lineNumber++;
            if (inFence) continue;
            var prose = CodeSpan().Replace(line, "");
            if (ReferenceDefinition().Match(prose) is { Success: true } definition)
                yield return new(lineNumber, definition.Groups["target"].Value);
            foreach (Match m in InlineLink().Matches(prose))
                yield return new(lineNumber, m.Groups["target"].Value);
            foreach (Match m in Autolink().Matches(prose))
                yield return new(lineNumber, m.Groups["target"].Value);
        }
    }

    /// <summary>The anchors of a document's headings: GitHub's rule, and "-1", "-2" ... for repeated ones.</summary>
    public static IReadOnlySet<string> Anchors(string text)
    {
        var anchors = new HashSet<string>(StringComparer.Ordinal);
        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var (line, inFence) in Lines(text))
        {
            if (inFence || Heading().Match(line) is not { Success: true } heading) continue;
            var anchor = Anchor(heading.Groups["text"].Value);
            var n = seen.GetValueOrDefault(anchor);
            seen[anchor] = n + 1;
            anchors.Add(n == 0 ? anchor : $"{anchor}-{n}");
        }
        return anchors;
    }

    /// <summary>GitHub's anchor of a heading: its rendered text lower-cased, punctuation other than '-' and '_' removed,
    /// each space a '-'.</summary>
    public static string Anchor(string heading)
    {
        var rendered = InlineLinkText().Replace(heading.Trim(), "${text}").Replace("`", "").Replace("*", "");
        var anchor = new StringBuilder(rendered.Length);
        foreach (var c in rendered.ToLowerInvariant())
        {
            if (c == ' ') anchor.Append('-');
            else if (char.IsLetterOrDigit(c) || c is '-' or '_') anchor.Append(c);
        }
        return anchor.ToString();
    }

    /// <summary>Each line, and whether it lies in a fenced code block (the fences included).</summary>
    static IEnumerable<(string Line, bool InFence)> Lines(string text)
    {
        string? fence = null;
        foreach (var line in text.Replace("\r\n", "\n").Split('\n'))
        {
            var trimmed = line.TrimStart();
            if (fence is null && (trimmed.StartsWith("```", StringComparison.Ordinal) || trimmed.StartsWith("~~~", StringComparison.Ordinal)))
            {
                fence = trimmed[..3];
                yield return (line, true);
            }
            else if (fence is not null)
            {
                if (trimmed.StartsWith(fence, StringComparison.Ordinal) && trimmed.Trim().Trim(fence[0]).Length == 0) fence = null;
                yield return (line, true);
            }
            else yield return (line, false);
        }
    }

    [GeneratedRegex(@"`+[^`]*`+")]
    private static partial Regex CodeSpan();

    [GeneratedRegex(@"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\((?<target><[^>]*>|[^\s)]*)(?:\s+""[^""]*"")?\)")]
    private static partial Regex InlineLink();

    [GeneratedRegex(@"\[(?<text>[^\]]*)\]\([^)]*\)")]
    private static partial Regex InlineLinkText();

    [GeneratedRegex(@"^ {0,3}\[[^\]]+\]:\s*(?<target>\S+)")]
    private static partial Regex ReferenceDefinition();

    [GeneratedRegex(@"<(?<target>https?://[^>\s]+)>")]
    private static partial Regex Autolink();

    [GeneratedRegex(@"^ {0,3}#{1,6}\s+(?<text>.*?)\s*#*\s*$")]
    private static partial Regex Heading();
}
