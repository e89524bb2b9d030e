using System.Globalization;
using System.Text.RegularExpressions;

namespace FlashSale.Sales;

/// <summary>The sale itself: the part of a FlashSale resource the services and the stock gate need.</summary>
public sealed partial record SaleDefinition(
    string Namespace,
    string Name,
    DateTimeOffset StartsAt,
    DateTimeOffset EndsAt,
    TimeSpan PaymentTimeout,
    IReadOnlyList<ProductDefinition> Products)
{
    public string Id => $"{Namespace}/{Name}";

    public ProductDefinition? Find(string sku) => Products.FirstOrDefault(p => p.Sku == sku);

    /// <summary>The checks of the CRD's CEL rules, repeated in code (a cluster may lack them). Each error names its field.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (!NameRegex().IsMatch(Name)) errors.Add($"metadata.name '{Name}' must be a DNS-1123 label (lower case letters, digits, '-', at most 40 characters)");
        if (!NameRegex().IsMatch(Namespace)) errors.Add($"metadata.namespace '{Namespace}' must be a DNS-1123 label");
        if (EndsAt <= StartsAt) errors.Add("spec.schedule.endsAt must be after spec.schedule.startsAt");
        if (PaymentTimeout <= TimeSpan.Zero) errors.Add("spec.paymentTimeout must be a positive duration");
        if (Products.Count == 0) errors.Add("spec.products must list at least one product");
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < Products.Count; i++)
        {
            var p = Products[i];
            if (string.IsNullOrWhiteSpace(p.Sku) || p.Sku.Length > 64 || p.Sku.Contains('|') || p.Sku.Contains('#'))
                errors.Add($"spec.products[{i}].sku must be 1-64 characters without '|' or '#'");
            else if (!seen.Add(p.Sku)) errors.Add($"spec.products[{i}].sku '{p.Sku}' is duplicated: skus must be unique");
            if (p.Stock < 0) errors.Add($"spec.products[{i}].stock must be >= 0");
            if (p.PerUserLimit < 1) errors.Add($"spec.products[{i}].perUserLimit must be >= 1");
            if (p.Price < 0) errors.Add($"spec.products[{i}].price must be >= 0");
            if (p.Currency.Length != 3) errors.Add($"spec.products[{i}].currency must be an ISO 4217 code of 3 letters");
        }
        return errors;
    }

    [GeneratedRegex("^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$")]
    private static partial Regex NameRegex();
}

/// <summary>Sale names are DNS-1123 labels (they are Kubernetes object names and part of every Redis key of the sale).</summary>
public static partial class SaleNames
{
    public static bool IsValid(string? name) => name is { Length: > 0 and <= 63 } && Pattern().IsMatch(name);

    [GeneratedRegex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")]
    private static partial Regex Pattern();
}

public sealed record ProductDefinition(string Sku, string Name, decimal Price, string Currency, long Stock, int PerUserLimit);

/// <summary>Kubernetes-style durations: Go duration strings ("15m", "1h30m", "2s", "500ms") or ISO 8601 ("PT15M").</summary>
public static partial class Durations
{
    public static TimeSpan Parse(string text)
    {
        if (TryParse(text, out var value)) return value;
        throw new FormatException($"'{text}' is not a duration (examples: 15m, 1h30m, 90s, 500ms)");
    }

    public static bool TryParse(string? text, out TimeSpan value)
    {
        value = default;
        if (string.IsNullOrWhiteSpace(text)) return false;
        text = text.Trim();
        if (text.StartsWith('P'))
        {
            try { value = System.Xml.XmlConvert.ToTimeSpan(text); return true; } catch (FormatException) { return false; }
        }
        var matches = PartRegex().Matches(text);
        if (matches.Count == 0 || matches.Sum(m => m.Length) != text.Length) return false;
        double ms = 0;
        foreach (Match m in matches)
        {
            var n = double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
            ms += m.Groups[2].Value switch { "h" => n * 3_600_000, "m" => n * 60_000, "s" => n * 1000, "ms" => n, _ => double.NaN };
        }
        if (double.IsNaN(ms)) return false;
        value = TimeSpan.FromMilliseconds(ms);
        return true;
    }

    public static string Format(TimeSpan t) =>
        t.TotalMilliseconds % 1000 != 0 ? $"{(long)t.TotalMilliseconds}ms"
        : t.TotalSeconds % 60 != 0 ? $"{(long)t.TotalSeconds}s"
        : t.TotalMinutes % 60 != 0 ? $"{(long)t.TotalMinutes}m"
        : $"{(long)t.TotalHours}h";

    [GeneratedRegex(@"(\d+(?:\.\d+)?)(ms|h|m|s)")]
    private static partial Regex PartRegex();
}
