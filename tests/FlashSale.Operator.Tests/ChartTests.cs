using System.Text.RegularExpressions;
using FlashSale.TestSupport;
using YamlDotNet.Serialization;

namespace FlashSale.Operator.Tests;

// Without helm here, the chart is checked as text and YAML: rendering is left to `make deploy` on kind.
public class ChartTests
{
    static readonly string Chart = Path.Combine(Infra.RepoRoot, "charts", "flashsale-operator");

    [Fact]
    public void EveryFileTheTemplatesIncludeExists()
    {
        var included = Directory.GetFiles(Path.Combine(Chart, "templates"))
            .SelectMany(f => Regex.Matches(File.ReadAllText(f), @"\.Files\.Get ""([^""]+)""").Select(m => m.Groups[1].Value))
            .ToList();

        Assert.Equal(5, included.Distinct().Count());
        Assert.All(included, path => Assert.True(File.Exists(Path.Combine(Chart, path)), path));
    }

    [Fact]
    public void TheValuesFilesAreValidYaml()
    {
        var yaml = new DeserializerBuilder().Build();
        foreach (var file in new[] { "values.yaml", "values-dev.yaml", "Chart.yaml" })
        {
            Assert.NotNull(yaml.Deserialize<Dictionary<string, object>>(File.ReadAllText(Path.Combine(Chart, file))));
        }
    }

    [Fact]
    public void TheOperatorPodRunsNonRootWithAReadOnlyRootAndProbes()
    {
        var deployment = File.ReadAllText(Path.Combine(Chart, "templates", "deployment.yaml"));

        foreach (var setting in new[]
        {
            "runAsNonRoot: true", "readOnlyRootFilesystem: true", "allowPrivilegeEscalation: false", "capabilities: { drop: [\"ALL\"] }",
            "seccompProfile: { type: RuntimeDefault }", "path: /healthz", "path: /readyz", "startupProbe:", "livenessProbe:", "readinessProbe:",
        })
        {
            Assert.Contains(setting, deployment);
        }
    }

    [Fact]
    public void TheDevelopmentRedisKeepsAnAofOnAVolumeAndNeverEvicts()
    {
        // A dev Redis without persistence came back empty after a container restart (the stream of accepted orders gone).
        var template = File.ReadAllText(Path.Combine(Chart, "templates", "dev-infrastructure.yaml"));
        var redis = Regex.Match(template, @"\(dict ""name"" ""redis"".*?\)\)\s*\n", RegexOptions.Singleline).Value;
        foreach (var arg in new[] { @"""--appendonly"" ""yes""", @"""--appendfsync"" ""everysec""", @"""--maxmemory-policy"" ""noeviction""", @"""data"" ""/data""" })
        {
            Assert.Contains(arg, redis);
        }
        Assert.Contains("volumeMounts: [{ name: data, mountPath: {{ $svc.data }} }]", template);
        Assert.Contains("emptyDir", template);
        var values = new DeserializerBuilder().Build().Deserialize<Dictionary<string, object>>(File.ReadAllText(Path.Combine(Chart, "values.yaml")));
        var dev = (Dictionary<object, object>)values["devInfrastructure"];
        var resources = (Dictionary<object, object>)((Dictionary<object, object>)dev["redis"])["resources"];
        Assert.Equal("500m", ((Dictionary<object, object>)resources["requests"])["cpu"]);
    }
}
