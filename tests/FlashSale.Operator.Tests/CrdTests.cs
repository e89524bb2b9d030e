using System.Text.Json.Nodes;
using FlashSale.Operator.Crd;
using FlashSale.TestSupport;
using YamlDotNet.Serialization;

namespace FlashSale.Operator.Tests;

public class CrdTests
{
    static readonly string Generated = CrdGenerator.BuildYaml();

    [Fact]
    public void TheCommittedCrdIsTheOneGeneratedFromTheTypes()
    {
        var committed = File.ReadAllText(Path.Combine(Infra.RepoRoot, "crds", CrdGenerator.FileName));
        Assert.True(committed == Generated, "crds/ differs from the C# types: run `make crds` and commit the result.");
    }

    [Fact]
    public void TheChartCarriesTheSameCrd()
    {
        var chart = File.ReadAllText(Path.Combine(Infra.RepoRoot, "charts", "flashsale-operator", "crds", CrdGenerator.FileName));
        Assert.True(chart == Generated, "charts/flashsale-operator/crds differs from the generated CRD: run `make crds` and commit the result.");
    }

    [Fact]
    public void TheCrdIsValidYamlWithTheNamesAndSubresources()
    {
        var crd = ParseYaml(Generated);
        var spec = crd["spec"]!;
        Assert.Equal("flashsales.flashsale.dev", crd["metadata"]!["name"]!.GetValue<string>());
        Assert.Equal("Namespaced", spec["scope"]!.GetValue<string>());
        Assert.Equal("fs", spec["names"]!["shortNames"]![0]!.GetValue<string>());
        var version = spec["versions"]![0]!;
        Assert.Equal("v1alpha1", version["name"]!.GetValue<string>());
        Assert.NotNull(version["subresources"]!["status"]);
        var columns = version["additionalPrinterColumns"]!.AsArray().Select(c => c!["name"]!.GetValue<string>()).ToList();
        Assert.Equal(["Phase", "Start", "End", "Sold", "Remaining", "Ready", "Age"], columns);
    }

    [Fact]
    public void TheSchemaCarriesTheCelRulesDefaultsAndConditionsMapList()
    {
        var schema = ParseYaml(Generated)["spec"]!["versions"]![0]!["schema"]!["openAPIV3Schema"]!;
        var spec = schema["properties"]!["spec"]!["properties"]!;
        var rules = string.Join("\n", AllRules(schema));
        Assert.Contains("self.endsAt > self.startsAt", rules);
        Assert.Contains("self.stock >= 0", rules);
        Assert.Contains("self.perUserLimit >= 1", rules);
        Assert.Contains("self.all(p, self.exists_one(q, q.sku == p.sku))", rules);
        Assert.Equal("Retain", spec["cleanupPolicy"]!["default"]!.GetValue<string>());
        Assert.Equal("15m", spec["paymentTimeout"]!["default"]!.GetValue<string>());
        Assert.Equal("1", spec["products"]!["items"]!["properties"]!["perUserLimit"]!["default"]!.ToString());
        var conditions = schema["properties"]!["status"]!["properties"]!["conditions"]!;
        Assert.Equal("map", conditions["x-kubernetes-list-type"]!.GetValue<string>());
        Assert.Equal("type", conditions["x-kubernetes-list-map-keys"]![0]!.GetValue<string>());
    }

    [Fact]
    public void TheCrdsCommandWritesTheGeneratedFile()
    {
        var dir = Path.Combine(Path.GetTempPath(), "crds-" + Guid.NewGuid().ToString("N"));
        try
        {
            Assert.Equal(0, CrdCommand.Run([dir], TextWriter.Null));
            Assert.Equal(Generated, File.ReadAllText(Path.Combine(dir, CrdGenerator.FileName)));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    static IEnumerable<string> AllRules(JsonNode node)
    {
        if (node is JsonObject obj)
        {
            foreach (var (key, value) in obj)
            {
                if (key == "x-kubernetes-validations")
                {
                    foreach (var r in value!.AsArray()) yield return r!["rule"]!.GetValue<string>();
                }
                else if (value is not null)
                {
                    foreach (var r in AllRules(value)) yield return r;
                }
            }
        }
        else if (node is JsonArray array)
        {
            foreach (var item in array.Where(i => i is not null))
            {
                foreach (var r in AllRules(item!)) yield return r;
            }
        }
    }

    /// <summary>YAML -> JSON through YamlDotNet (scalars stay strings: the test reads them as such).</summary>
    internal static JsonNode ParseYaml(string yaml)
    {
        var value = new DeserializerBuilder().Build().Deserialize<object>(yaml);
        return ToNode(value)!;
    }

    static JsonNode? ToNode(object? value) => value switch
    {
        null => null,
        Dictionary<object, object?> map => new JsonObject(map.Select(kv => KeyValuePair.Create(kv.Key.ToString()!, ToNode(kv.Value)))),
        List<object?> list => new JsonArray([.. list.Select(ToNode)]),
        _ => JsonValue.Create(value.ToString()),
    };
}
