using System.Text.Json;
using System.Text.Json.Serialization;

namespace FlashSale.Kubernetes.Models;

/// <summary>metadata of every object. managedFields is deliberately not modelled: the client never sends it back.</summary>
public sealed class V1ObjectMeta
{
    public string? Name { get; set; }

    public string? GenerateName { get; set; }

    [JsonPropertyName("namespace")]
    public string? NamespaceProperty { get; set; }

    public string? Uid { get; set; }

    public string? ResourceVersion { get; set; }

    public long? Generation { get; set; }

    public DateTimeOffset? CreationTimestamp { get; set; }

    public DateTimeOffset? DeletionTimestamp { get; set; }

    public long? DeletionGracePeriodSeconds { get; set; }

    public IDictionary<string, string>? Labels { get; set; }

    public IDictionary<string, string>? Annotations { get; set; }

    public IList<V1OwnerReference>? OwnerReferences { get; set; }

    public IList<string>? Finalizers { get; set; }
}

public sealed class V1OwnerReference
{
    public string? ApiVersion { get; set; }

    public string? Kind { get; set; }

    public string? Name { get; set; }

    public string? Uid { get; set; }

    public bool? Controller { get; set; }

    public bool? BlockOwnerDeletion { get; set; }
}

public sealed class V1ListMeta
{
    public string? ResourceVersion { get; set; }

    [JsonPropertyName("continue")]
    public string? ContinueProperty { get; set; }

    public long? RemainingItemCount { get; set; }
}

/// <summary>The API's error (and some success) answer.</summary>
public sealed class V1Status
{
    public string? ApiVersion { get; set; }

    public string? Kind { get; set; }

    public string? Status { get; set; }

    public string? Message { get; set; }

    public string? Reason { get; set; }

    public int? Code { get; set; }

    public V1StatusDetails? Details { get; set; }
}

public sealed class V1StatusDetails
{
    public string? Name { get; set; }

    public string? Group { get; set; }

    public string? Kind { get; set; }

    public string? Uid { get; set; }

    public int? RetryAfterSeconds { get; set; }

    public IList<V1StatusCause>? Causes { get; set; }
}

public sealed class V1StatusCause
{
    public string? Reason { get; set; }

    public string? Message { get; set; }

    public string? Field { get; set; }
}

/// <summary>metav1.Condition, the standard status condition.</summary>
public sealed class V1Condition
{
    public string? Type { get; set; }

    /// <summary>"True", "False" or "Unknown".</summary>
    public string? Status { get; set; }

    public long? ObservedGeneration { get; set; }

    public DateTimeOffset? LastTransitionTime { get; set; }

    public string? Reason { get; set; }

    public string? Message { get; set; }
}

public sealed class V1LabelSelector
{
    public IDictionary<string, string>? MatchLabels { get; set; }

    public IList<V1LabelSelectorRequirement>? MatchExpressions { get; set; }
}

public sealed class V1LabelSelectorRequirement
{
    public string? Key { get; set; }

    /// <summary>In, NotIn, Exists or DoesNotExist.</summary>
    public string? Operator { get; set; }

    public IList<string>? Values { get; set; }
}

public sealed class V1ObjectReference
{
    public string? ApiVersion { get; set; }

    public string? Kind { get; set; }

    public string? Name { get; set; }

    [JsonPropertyName("namespace")]
    public string? NamespaceProperty { get; set; }

    public string? Uid { get; set; }

    public string? ResourceVersion { get; set; }

    public string? FieldPath { get; set; }
}

/// <summary>A value the API accepts as a number or a string (ports, percentages).</summary>
[JsonConverter(typeof(IntOrStringConverter))]
public readonly record struct IntOrString
{
    public IntOrString(int value) => IntValue = value;

    public IntOrString(string value) => StringValue = value;

    public int? IntValue { get; }

    public string? StringValue { get; }

    public static implicit operator IntOrString(int value) => new(value);

    public static implicit operator IntOrString(string value) => new(value);

    public override string ToString() => StringValue ?? IntValue?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? string.Empty;
}

public sealed class IntOrStringConverter : JsonConverter<IntOrString>
{
    public override IntOrString Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => reader.TokenType switch
    {
        JsonTokenType.Number => new IntOrString(reader.GetInt32()),
        JsonTokenType.String => new IntOrString(reader.GetString()!),
        _ => throw new JsonException($"Expected a number or a string, got {reader.TokenType}."),
    };

    public override void Write(Utf8JsonWriter writer, IntOrString value, JsonSerializerOptions options)
    {
        if (value.StringValue is not null)
        {
            writer.WriteStringValue(value.StringValue);
        }
        else
        {
            writer.WriteNumberValue(value.IntValue ?? 0);
        }
    }
}

/// <summary>Kubernetes' Time: RFC 3339 in UTC with whole seconds ("2026-01-02T03:04:05Z").</summary>
public sealed class KubernetesTimeConverter : JsonConverter<DateTimeOffset>
{
    public override DateTimeOffset Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        DateTimeOffset.Parse(reader.GetString()!, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal);

    public override void Write(Utf8JsonWriter writer, DateTimeOffset value, JsonSerializerOptions options) =>
        writer.WriteStringValue(value.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture));
}

/// <summary>Kubernetes' MicroTime (leases, events): six fractional digits, which the server requires exactly.</summary>
public sealed class KubernetesMicroTimeConverter : JsonConverter<DateTimeOffset>
{
    public override DateTimeOffset Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        DateTimeOffset.Parse(reader.GetString()!, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal);

    public override void Write(Utf8JsonWriter writer, DateTimeOffset value, JsonSerializerOptions options) =>
        writer.WriteStringValue(value.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", System.Globalization.CultureInfo.InvariantCulture));
}
