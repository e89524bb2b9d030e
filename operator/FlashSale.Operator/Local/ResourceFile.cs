using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using FlashSale.Operator.Controller;
using FlashSale.Operator.Entities;
using FlashSale.Sales;
using k8s;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace FlashSale.Operator.Local;

/// <summary>
/// A FlashSale resource read from the YAML (or JSON) that <c>kubectl apply</c> takes, as the API server would read it:
/// plain scalars that look like numbers, booleans or null are those, quoted ones are strings.
/// </summary>
public static class ResourceFile
{
    public static JsonObject LoadTree(string path)
    {
        var stream = new YamlStream();
        try
        {
            using var reader = new StringReader(File.ReadAllText(path));
            stream.Load(reader);
        }
        catch (YamlException e)
        {
            throw new InvalidDataException($"{path} is not valid YAML at line {e.Start.Line}: {e.InnerException?.Message ?? e.Message}", e);
        }

        if (stream.Documents.Count != 1 || ToJson(stream.Documents[0].RootNode) is not JsonObject root)
        {
            throw new InvalidDataException($"{path} must hold exactly one FlashSale object");
        }

        return root;
    }

    public static V1Alpha1FlashSale ToResource(JsonObject tree, string source)
    {
        try
        {
            var fs = KubernetesJson.Deserialize<V1Alpha1FlashSale>(tree) ?? throw new InvalidDataException($"{source} is empty");
            if (fs.ApiVersion != $"{V1Alpha1FlashSale.Group}/{V1Alpha1FlashSale.Version}" || fs.Kind != V1Alpha1FlashSale.KindName)
            {
                throw new InvalidDataException($"{source}: apiVersion must be {V1Alpha1FlashSale.Group}/{V1Alpha1FlashSale.Version} and kind {V1Alpha1FlashSale.KindName}");
            }

            // Owner references need one; a resource read from a file has never been stored by an API server.
            fs.Metadata ??= new();
            fs.Metadata.Uid ??= "00000000-0000-0000-0000-000000000000";
            return fs;
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{source}: {e.Path?.TrimStart('$', '.')} has the wrong type ({e.Message})", e);
        }
    }

    /// <summary>
    /// The resource and its sale as the operator validates them; <paramref name="edit"/> changes the tree first, as a shop
    /// would before applying the file. Throws <see cref="SaleFileException"/> naming every invalid field.
    /// </summary>
    public static (V1Alpha1FlashSale Resource, SaleDefinition Sale) LoadSale(string path, Action<JsonObject> edit)
    {
        var tree = LoadTree(path);
        edit(tree);
        var fs = ToResource(tree, path);
        fs.Metadata.NamespaceProperty ??= "default";
        var (sale, errors) = SaleMapping.Map(fs);
        return sale is null ? throw new SaleFileException(path, errors) : (fs, sale);
    }

    /// <summary>What a command prints for a sale file it refuses (exit code 2).</summary>
    public static int Refuse(TextWriter error, string path, IEnumerable<string> errors)
    {
        error.WriteLine($"{path} is invalid:");
        foreach (var message in errors)
        {
            error.WriteLine($"  - {message}");
        }

        return 2;
    }

    public static string ToJson(V1Alpha1FlashSale fs) =>
        JsonNode.Parse(KubernetesJson.Serialize(fs))!.ToJsonString(new JsonSerializerOptions { WriteIndented = true });

    static JsonNode? ToJson(YamlNode node) => node switch
    {
        YamlMappingNode map => new JsonObject(map.Children.Select(c => KeyValuePair.Create(((YamlScalarNode)c.Key).Value ?? "", ToJson(c.Value)))),
        YamlSequenceNode list => new JsonArray([.. list.Children.Select(ToJson)]),
        YamlScalarNode scalar => Scalar(scalar),
        _ => throw new InvalidDataException($"unsupported YAML node at line {node.Start.Line}"),
    };

    static JsonNode? Scalar(YamlScalarNode scalar)
    {
        var text = scalar.Value ?? "";
        if (scalar.Style is not ScalarStyle.Plain)
        {
            return JsonValue.Create(text);
        }

        if (text is "" or "~" or "null" or "Null" or "NULL")
        {
            return null;
        }

        if (text is "true" or "True" or "TRUE" or "false" or "False" or "FALSE")
        {
            return JsonValue.Create(bool.Parse(text));
        }

        if (long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var integer))
        {
            return JsonValue.Create(integer);
        }

        if (decimal.TryParse(text, NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint | NumberStyles.AllowExponent, CultureInfo.InvariantCulture, out var number))
        {
            return JsonValue.Create(number);
        }

        return JsonValue.Create(text);
    }
}
