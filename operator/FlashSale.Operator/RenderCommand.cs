using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using FlashSale.Operator.Controller;
using FlashSale.Operator.Local;
using YamlDotNet.Serialization;

namespace FlashSale.Operator;

/// <summary>
/// <c>FlashSale.Operator render --file sale.yaml [--namespace NS] [--prescaled]</c>: every object the operator applies for
/// the sale, as multi-document YAML in a stable order, with no cluster, Redis or RabbitMQ (as <c>helm template</c> does).
/// Exit codes: 0 rendered, 2 invalid sale or arguments (each error names the field).
/// </summary>
public static class RenderCommand
{
    const string Usage = "usage: FlashSale.Operator render --file <sale.yaml> [--namespace NS] [--prescaled]";

    public static int Run(IReadOnlyList<string> args, TextWriter output, TextWriter error)
    {
        string? file = null, ns = null;
        var prescaled = false;
        for (var i = 0; i < args.Count; i++)
        {
            switch (args[i])
            {
                case "--file" or "-f" when i + 1 < args.Count: file = args[++i]; break;
                case "--namespace" or "-n" when i + 1 < args.Count: ns = args[++i]; break;
                case "--prescaled": prescaled = true; break;
                default:
                    error.WriteLine($"unknown argument '{args[i]}'");
                    error.WriteLine(Usage);
                    return 2;
            }
        }

        if (file is null)
        {
            error.WriteLine(Usage);
            return 2;
        }

        Entities.V1Alpha1FlashSale fs;
        Sales.SaleDefinition sale;
        try
        {
            (fs, sale) = ResourceFile.LoadSale(file, tree =>
            {
                if (ns is not null)
                {
                    (tree["metadata"] as JsonObject ?? (JsonObject)(tree["metadata"] = new JsonObject()))["namespace"] = ns;
                }
            });
        }
        catch (Sales.SaleFileException e)
        {
            return ResourceFile.Refuse(error, file, e.Errors);
        }
        catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException)
        {
            error.WriteLine($"cannot read {file}: {e.Message}");
            return 2;
        }

        IReadOnlyList<JsonObject> children;
        try
        {
            children = Children.Render(fs, sale, prescaled);
        }
        catch (FormatException e)
        {
            return ResourceFile.Refuse(error, file, [e.Message]);
        }

        var yaml = new SerializerBuilder().WithQuotingNecessaryStrings().Build();
        var first = true;
        foreach (var child in children)
        {
            if (!first)
            {
                output.WriteLine("---");
            }

            first = false;
            output.Write(yaml.Serialize(Plain(child)));
        }

        return 0;
    }

    /// <summary>A JSON tree as the dictionaries, lists and scalars YamlDotNet writes (strings stay strings: quoted when needed).</summary>
    static object? Plain(JsonNode? node) => node switch
    {
        null => null,
        JsonObject o => o.ToDictionary(p => p.Key, p => Plain(p.Value)),
        JsonArray a => a.Select(Plain).ToList(),
        JsonValue v => v.GetValueKind() switch
        {
            JsonValueKind.String => v.GetValue<string>(),
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            JsonValueKind.Number => decimal.Parse(v.ToJsonString(), NumberStyles.Float, CultureInfo.InvariantCulture),
            _ => null,
        },
        _ => null,
    };
}
