using System.Collections;
using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Reflection;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using FlashSale.Operator.Entities;
using k8s.Models;

namespace FlashSale.Operator.Crd;

/// <summary>
/// Builds the FlashSale CustomResourceDefinition from the C# types by reflection: a structural OpenAPI v3 schema with
/// defaults, bounds, patterns, CEL rules, list-map keys, printer columns and the status subresource. `make crds` writes it.
/// </summary>
public static class CrdGenerator
{
    public const string FileName = "flashsales.flashsale.dev.yaml";

    public static JsonObject Build()
    {
        var root = new JsonObject
        {
            ["type"] = "object",
            ["description"] = Describe(typeof(V1Alpha1FlashSale)),
            ["properties"] = new JsonObject
            {
                ["apiVersion"] = new JsonObject { ["type"] = "string" },
                ["kind"] = new JsonObject { ["type"] = "string" },
                ["metadata"] = new JsonObject { ["type"] = "object" },
                ["spec"] = Schema(typeof(FlashSaleSpec)),
                ["status"] = Schema(typeof(FlashSaleStatus)),
            },
            ["required"] = new JsonArray("spec"),
        };

        var columns = new JsonArray();
        foreach (var column in typeof(V1Alpha1FlashSale).GetCustomAttributes<PrinterColumnAttribute>())
        {
            var c = new JsonObject { ["name"] = column.Name, ["type"] = column.Type, ["jsonPath"] = column.JsonPath };
            if (column.Description is not null)
            {
                c["description"] = column.Description;
            }

            if (column.Priority != 0)
            {
                c["priority"] = column.Priority;
            }

            columns.Add(c);
        }

        return new JsonObject
        {
            ["apiVersion"] = "apiextensions.k8s.io/v1",
            ["kind"] = "CustomResourceDefinition",
            ["metadata"] = new JsonObject
            {
                ["name"] = $"{V1Alpha1FlashSale.Plural}.{V1Alpha1FlashSale.Group}",
                ["labels"] = new JsonObject { ["app.kubernetes.io/part-of"] = "flashsale" },
            },
            ["spec"] = new JsonObject
            {
                ["group"] = V1Alpha1FlashSale.Group,
                ["scope"] = "Namespaced",
                ["names"] = new JsonObject
                {
                    ["kind"] = V1Alpha1FlashSale.KindName,
                    ["listKind"] = V1Alpha1FlashSale.KindName + "List",
                    ["plural"] = V1Alpha1FlashSale.Plural,
                    ["singular"] = V1Alpha1FlashSale.KindName.ToLowerInvariant(),
                    ["shortNames"] = new JsonArray(V1Alpha1FlashSale.ShortName),
                    ["categories"] = new JsonArray("flashsale"),
                },
                ["versions"] = new JsonArray(new JsonObject
                {
                    ["name"] = V1Alpha1FlashSale.Version,
                    ["served"] = true,
                    ["storage"] = true,
                    ["subresources"] = new JsonObject { ["status"] = new JsonObject() },
                    ["additionalPrinterColumns"] = columns,
                    ["schema"] = new JsonObject { ["openAPIV3Schema"] = root },
                }),
            },
        };
    }

    /// <summary>The CRD as the YAML committed in crds/ and in the chart.</summary>
    public static string BuildYaml() =>
        "# Generated from operator/FlashSale.Operator/Entities by `make crds`; do not edit.\n---\n" + YamlWriter.Write(Build());

    static JsonObject Schema(Type type)
    {
        if (type == typeof(V1Condition))
        {
            return ConditionSchema();
        }

        var schema = new JsonObject { ["type"] = "object" };
        var properties = new JsonObject();
        var required = new JsonArray();
        foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (property.GetCustomAttribute<JsonIgnoreAttribute>() is not null || property.GetIndexParameters().Length > 0)
            {
                continue;
            }

            var name = JsonName(property);
            properties[name] = PropertySchema(property);
            if (property.GetCustomAttribute<RequiredAttribute>() is not null)
            {
                required.Add(name);
            }
        }

        schema["properties"] = properties;
        if (required.Count > 0)
        {
            schema["required"] = required;
        }

        AddRules(schema, type.GetCustomAttributes<CelRuleAttribute>());
        return schema;
    }

    static JsonObject PropertySchema(PropertyInfo property)
    {
        var schema = TypeSchema(property.PropertyType, property);
        if (property.GetCustomAttribute<DescriptionAttribute>() is { } description)
        {
            schema["description"] = description.Description;
        }

        if (property.GetCustomAttribute<FormatAttribute>() is { } format)
        {
            schema["format"] = format.Format;
        }

        if (property.GetCustomAttribute<DefaultValueAttribute>() is { Value: { } value })
        {
            schema["default"] = value switch
            {
                string s => JsonValue.Create(s),
                bool b => JsonValue.Create(b),
                int i => JsonValue.Create(i),
                long l => JsonValue.Create(l),
                _ => throw new NotSupportedException($"Default of type {value.GetType().Name} on {property.Name}."),
            };
        }

        if (property.GetCustomAttribute<RangeAttribute>() is { } range)
        {
            AddBound(schema, "minimum", range.Minimum);
            AddBound(schema, "maximum", range.Maximum);
        }

        if (property.GetCustomAttribute<RegularExpressionAttribute>() is { } pattern)
        {
            schema["pattern"] = pattern.Pattern;
        }

        var isArray = schema["type"]?.GetValue<string>() == "array";
        if (property.GetCustomAttribute<MinLengthAttribute>() is { } minLength)
        {
            schema[isArray ? "minItems" : "minLength"] = minLength.Length;
        }

        if (property.GetCustomAttribute<MaxLengthAttribute>() is { } maxLength)
        {
            schema["maxLength"] = maxLength.Length;
        }

        if (property.GetCustomAttribute<MaxItemsAttribute>() is { } maxItems)
        {
            schema["maxItems"] = maxItems.MaxItems;
        }

        if (property.GetCustomAttribute<AllowedValuesAttribute>() is { } allowed)
        {
            schema["enum"] = new JsonArray([.. allowed.Values.Select(v => JsonValue.Create(v?.ToString()))]);
        }

        if (property.GetCustomAttribute<ListMapAttribute>() is { } listMap)
        {
            schema["x-kubernetes-list-type"] = "map";
            schema["x-kubernetes-list-map-keys"] = new JsonArray([.. listMap.Keys.Select(k => JsonValue.Create(k))]);
        }

        AddRules(schema, property.GetCustomAttributes<CelRuleAttribute>());
        return schema;
    }

    static JsonObject TypeSchema(Type type, PropertyInfo? property)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        if (type == typeof(string))
        {
            return new JsonObject { ["type"] = "string" };
        }

        if (type == typeof(bool))
        {
            return new JsonObject { ["type"] = "boolean" };
        }

        if (type == typeof(int))
        {
            return new JsonObject { ["type"] = "integer", ["format"] = "int32" };
        }

        if (type == typeof(long))
        {
            return new JsonObject { ["type"] = "integer", ["format"] = "int64" };
        }

        if (type == typeof(decimal) || type == typeof(double))
        {
            return new JsonObject { ["type"] = "number" };
        }

        if (type == typeof(DateTimeOffset))
        {
            return new JsonObject { ["type"] = "string", ["format"] = "date-time" };
        }

        if (type.IsGenericType && type.GetGenericTypeDefinition() is var definition
            && (definition == typeof(IDictionary<,>) || definition == typeof(Dictionary<,>)))
        {
            return new JsonObject { ["type"] = "object", ["additionalProperties"] = TypeSchema(type.GetGenericArguments()[1], null) };
        }

        if (type != typeof(string) && typeof(IEnumerable).IsAssignableFrom(type) && type.IsGenericType)
        {
            return new JsonObject { ["type"] = "array", ["items"] = TypeSchema(type.GetGenericArguments()[0], null) };
        }

        if (type.IsClass)
        {
            return Schema(type);
        }

        throw new NotSupportedException($"No schema for {type.Name} ({property?.DeclaringType?.Name}.{property?.Name}).");
    }

    static JsonObject ConditionSchema() => new()
    {
        ["type"] = "object",
        ["description"] = "A metav1.Condition.",
        ["properties"] = new JsonObject
        {
            ["type"] = new JsonObject { ["type"] = "string", ["maxLength"] = 316 },
            ["status"] = new JsonObject { ["type"] = "string", ["enum"] = new JsonArray("True", "False", "Unknown") },
            ["observedGeneration"] = new JsonObject { ["type"] = "integer", ["format"] = "int64", ["minimum"] = 0 },
            ["lastTransitionTime"] = new JsonObject { ["type"] = "string", ["format"] = "date-time" },
            ["reason"] = new JsonObject { ["type"] = "string", ["maxLength"] = 1024, ["minLength"] = 1 },
            ["message"] = new JsonObject { ["type"] = "string", ["maxLength"] = 32768 },
        },
        ["required"] = new JsonArray("type", "status", "lastTransitionTime", "reason", "message"),
    };

    static void AddRules(JsonObject schema, IEnumerable<CelRuleAttribute> rules)
    {
        var list = new JsonArray();
        foreach (var rule in rules)
        {
            var r = new JsonObject { ["rule"] = rule.Rule, ["message"] = rule.Message };
            if (rule.FieldPath is not null)
            {
                r["fieldPath"] = rule.FieldPath;
            }

            list.Add(r);
        }

        if (list.Count > 0)
        {
            schema["x-kubernetes-validations"] = list;
        }
    }

    static void AddBound(JsonObject schema, string key, object bound)
    {
        switch (bound)
        {
            case int i when i is not int.MaxValue and not int.MinValue:
                schema[key] = i;
                break;
            case long l when l is not long.MaxValue and not long.MinValue:
                schema[key] = l;
                break;
            case double d when Math.Abs(d) < 1e15: // beyond that a bound is only the type's range
                schema[key] = d;
                break;
        }
    }

    static string JsonName(PropertyInfo property) =>
        property.GetCustomAttribute<JsonPropertyNameAttribute>()?.Name ?? JsonNamingPolicy.CamelCase.ConvertName(property.Name);

    static string? Describe(Type type) => type.GetCustomAttribute<DescriptionAttribute>()?.Description;
}

/// <summary>A YAML writer for JSON trees: block style, keys in insertion order, strings quoted when YAML would read them otherwise.</summary>
public static class YamlWriter
{
    static readonly JsonSerializerOptions QuotedStrings = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static string Write(JsonNode node)
    {
        var builder = new StringBuilder();
        WriteNode(builder, node, 0, inList: false);
        return builder.ToString();
    }

    static void WriteNode(StringBuilder builder, JsonNode? node, int indent, bool inList)
    {
        switch (node)
        {
            case JsonObject obj:
                var first = true;
                foreach (var (key, value) in obj)
                {
                    var pad = first && inList ? string.Empty : new string(' ', indent);
                    first = false;
                    builder.Append(pad).Append(Scalar(key)).Append(':');
                    WriteValue(builder, value, indent);
                }

                break;
            case JsonArray array:
                foreach (var item in array)
                {
                    builder.Append(new string(' ', indent)).Append("- ");
                    if (item is JsonObject { Count: > 0 } o)
                    {
                        WriteNode(builder, o, indent + 2, inList: true);
                    }
                    else
                    {
                        builder.Append(Inline(item)).Append('\n');
                    }
                }

                break;
        }
    }

    static void WriteValue(StringBuilder builder, JsonNode? value, int indent)
    {
        switch (value)
        {
            case JsonObject { Count: > 0 } obj:
                builder.Append('\n');
                WriteNode(builder, obj, indent + 2, inList: false);
                break;
            case JsonArray { Count: > 0 } array:
                builder.Append('\n');
                WriteNode(builder, array, indent, inList: false);
                break;
            default:
                builder.Append(' ').Append(Inline(value)).Append('\n');
                break;
        }
    }

    static string Inline(JsonNode? value) => value switch
    {
        null => "null",
        JsonObject => "{}",
        JsonArray => "[]",
        JsonValue v when v.TryGetValue<string>(out var s) => Scalar(s),
        JsonValue v when v.TryGetValue<bool>(out var b) => b ? "true" : "false",
        _ => value.ToJsonString(),
    };

    static string Scalar(string s)
    {
        var plain = s.Length > 0
            && !char.IsWhiteSpace(s[0]) && !char.IsWhiteSpace(s[^1])
            && s.All(c => char.IsLetterOrDigit(c) || c is '-' or '_' or '.' or '/' or ' ')
            && !char.IsDigit(s[0]) && s[0] is not '-' and not '.'
            && s is not ("true" or "false" or "null" or "yes" or "no" or "on" or "off" or "True" or "False" or "Yes" or "No" or "On" or "Off" or "y" or "n" or "Y" or "N" or "~");
        return plain ? s : JsonValue.Create(s).ToJsonString(QuotedStrings);
    }
}
