using System.Globalization;
using YamlDotNet.Serialization;
using YamlDotNet.Serialization.NamingConventions;

namespace FlashSale.Sales;

/// <summary>
/// Reads a sale file: the same FlashSale resource YAML that `kubectl apply` takes. Only the sale's own fields
/// are read here (metadata, schedule, paymentTimeout, products); the operator reads the rest.
/// </summary>
public static class SaleFile
{
    public const string ApiVersion = "flashsale.dev/v1alpha1";
    public const string Kind = "FlashSale";

    static readonly IDeserializer Yaml = new DeserializerBuilder()
        .WithNamingConvention(CamelCaseNamingConvention.Instance)
        .IgnoreUnmatchedProperties()
        .Build();

    public static SaleDefinition Load(string path) => Parse(File.ReadAllText(path), path);

    /// <summary>Parses and validates; throws <see cref="SaleFileException"/> naming every bad field.</summary>
    public static SaleDefinition Parse(string yaml, string source = "sale file")
    {
        var sale = ParseUnvalidated(yaml, source);
        var errors = sale.Validate();
        if (errors.Count > 0) throw new SaleFileException(source, errors);
        return sale;
    }

    public static SaleDefinition ParseUnvalidated(string yaml, string source = "sale file")
    {
        Doc doc;
        try { doc = Yaml.Deserialize<Doc>(yaml) ?? throw new SaleFileException(source, ["the file is empty"]); }
        catch (YamlDotNet.Core.YamlException e) { throw new SaleFileException(source, [$"not valid YAML at line {e.Start.Line}: {e.InnerException?.Message ?? e.Message}"]); }
        var errors = new List<string>();
        if (doc.ApiVersion != ApiVersion) errors.Add($"apiVersion must be {ApiVersion}");
        if (doc.Kind != Kind) errors.Add($"kind must be {Kind}");
        if (string.IsNullOrEmpty(doc.Metadata?.Name)) errors.Add("metadata.name is required");
        var spec = doc.Spec;
        if (spec?.Schedule is null) errors.Add("spec.schedule is required");
        var starts = Time(spec?.Schedule?.StartsAt, "spec.schedule.startsAt", errors);
        var ends = Time(spec?.Schedule?.EndsAt, "spec.schedule.endsAt", errors);
        var timeout = TimeSpan.FromMinutes(15);
        if (spec?.PaymentTimeout is { } pt && !Durations.TryParse(pt, out timeout)) errors.Add($"spec.paymentTimeout '{pt}' is not a duration (e.g. 15m)");
        if (errors.Count > 0) throw new SaleFileException(source, errors);
        var products = (spec!.Products ?? []).Select(p => new ProductDefinition(
            p.Sku ?? "", p.Name ?? p.Sku ?? "", p.Price, p.Currency ?? "EUR", p.Stock, p.PerUserLimit ?? 1)).ToList();
        return new SaleDefinition(doc.Metadata!.Namespace ?? "default", doc.Metadata.Name!, starts, ends, timeout, products);
    }

    static DateTimeOffset Time(string? text, string field, List<string> errors)
    {
        if (string.IsNullOrWhiteSpace(text)) { errors.Add($"{field} is required"); return default; }
        if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var t)) return t;
        errors.Add($"{field} '{text}' is not an RFC 3339 time (e.g. 2026-11-27T09:00:00Z)");
        return default;
    }

    /// <summary>Writes a minimal sale file (used by tests and the load tool to make sales relative to now).</summary>
    public static string ToYaml(SaleDefinition sale)
    {
        var sb = new System.Text.StringBuilder();
        sb.AppendLine($"apiVersion: {ApiVersion}").AppendLine($"kind: {Kind}").AppendLine("metadata:")
          .AppendLine($"  name: {sale.Name}").AppendLine($"  namespace: {sale.Namespace}").AppendLine("spec:")
          .AppendLine("  schedule:")
          .AppendLine($"    startsAt: \"{sale.StartsAt.UtcDateTime:yyyy-MM-ddTHH:mm:ss.fffZ}\"")
          .AppendLine($"    endsAt: \"{sale.EndsAt.UtcDateTime:yyyy-MM-ddTHH:mm:ss.fffZ}\"")
          .AppendLine($"  paymentTimeout: {Durations.Format(sale.PaymentTimeout)}")
          .AppendLine("  products:");
        foreach (var p in sale.Products)
            sb.AppendLine($"    - sku: {p.Sku}").AppendLine($"      name: \"{p.Name}\"")
              .AppendLine($"      price: {p.Price.ToString(CultureInfo.InvariantCulture)}").AppendLine($"      currency: {p.Currency}")
              .AppendLine($"      stock: {p.Stock}").AppendLine($"      perUserLimit: {p.PerUserLimit}");
        return sb.ToString();
    }

    sealed class Doc
    {
        public string? ApiVersion { get; set; }
        public string? Kind { get; set; }
        public Meta? Metadata { get; set; }
        public Spec? Spec { get; set; }
    }
    sealed class Meta { public string? Name { get; set; } public string? Namespace { get; set; } }
    sealed class Spec
    {
        public Schedule? Schedule { get; set; }
        public string? PaymentTimeout { get; set; }
        public List<Product>? Products { get; set; }
    }
    sealed class Schedule { public string? StartsAt { get; set; } public string? EndsAt { get; set; } }
    sealed class Product
    {
        public string? Sku { get; set; }
        public string? Name { get; set; }
        public decimal Price { get; set; }
        public string? Currency { get; set; }
        public long Stock { get; set; }
        public int? PerUserLimit { get; set; }
    }
}

public sealed class SaleFileException(string source, IReadOnlyList<string> errors)
    : Exception($"{source} is invalid: {string.Join("; ", errors)}")
{
    public IReadOnlyList<string> Errors { get; } = errors;
}
