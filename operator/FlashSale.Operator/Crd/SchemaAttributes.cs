namespace FlashSale.Operator.Crd;

// Attributes the CRD generator reads besides System.ComponentModel's [Description] / [DefaultValue] and
// DataAnnotations' [Required] / [Range] / [RegularExpression] / [MinLength] / [MaxLength] / [AllowedValues].

/// <summary>A CEL rule (x-kubernetes-validations) on the type or property it decorates.</summary>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Property, AllowMultiple = true)]
public sealed class CelRuleAttribute(string rule, string message) : Attribute
{
    public string Rule { get; } = rule;

    public string Message { get; } = message;

    /// <summary>The field the rule reports, relative to where it is declared (".endsAt").</summary>
    public string? FieldPath { get; init; }
}

/// <summary>An OpenAPI string format ("date-time").</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class FormatAttribute(string format) : Attribute
{
    public string Format { get; } = format;
}

/// <summary>The list is a map keyed by these fields (x-kubernetes-list-type: map).</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class ListMapAttribute(params string[] keys) : Attribute
{
    public string[] Keys { get; } = keys;
}

/// <summary>Bounds the number of list items (needed for CEL cost estimation).</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class MaxItemsAttribute(int maxItems) : Attribute
{
    public int MaxItems { get; } = maxItems;
}

/// <summary>A printer column of kubectl get.</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true)]
public sealed class PrinterColumnAttribute(string name, string type, string jsonPath) : Attribute
{
    public string Name { get; } = name;

    public string Type { get; } = type;

    public string JsonPath { get; } = jsonPath;

    public string? Description { get; init; }

    public int Priority { get; init; }
}
