using YamlDotNet.RepresentationModel;

namespace FlashSale.Monitoring.Tests;

/// <summary>Text checks of the chart's templates (helm is not installed here) and of the defaults in values.yaml.</summary>
public sealed class ChartTests
{
    static string Template(string name) => File.ReadAllText(Path.Combine(Repository.Chart, "templates", name));

    [Fact]
    public void ThePrometheusRuleSpecIsTheRuleFile()
    {
        var template = Template("prometheusrule.yaml");
        Assert.Contains(".Files.Get \"files/prometheus/flashsale-rules.yaml\"", template);
        Assert.Contains("spec:", template);
        Assert.DoesNotContain("groups:", template);
        Assert.DoesNotContain("tpl ", template); // Helm must not template the file's {{ $labels.x }}
    }

    [Fact]
    public void TheDashboardConfigMapIsRenderedOnlyWhenDashboardsAreEnabled()
    {
        var lines = Template("dashboard-configmap.yaml").Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0).ToList();
        Assert.Equal("{{- if .Values.dashboards.enabled }}", lines[0]);
        Assert.Equal("{{- end }}", lines[^1]);
        var body = string.Join('\n', lines);
        Assert.Contains("kind: ConfigMap", body);
        Assert.Contains(".Files.Get \"files/dashboards/flashsale-sale.json\"", body);
        Assert.Contains("{{ .Values.dashboards.label }}: {{ .Values.dashboards.labelValue | quote }}", body);
        Assert.Contains(".Values.dashboards.annotations", body);
        Assert.Contains(".Values.dashboards.namespace", body);
    }

    [Fact]
    public void ValuesDisableDashboardsAndLabelThemForTheGrafanaSidecar()
    {
        var dashboards = Values()["dashboards"];
        Assert.Equal("false", Scalar(dashboards, "enabled"));
        Assert.Equal("grafana_dashboard", Scalar(dashboards, "label"));
        Assert.Equal("1", Scalar(dashboards, "labelValue"));
    }

    [Fact]
    public void ValuesKeepRunbookLinksRelativeByDefault()
    {
        var prometheusRule = ((YamlMappingNode)Values()["metrics"])["prometheusRule"];
        Assert.Equal("false", Scalar(prometheusRule, "enabled"));
        Assert.Equal("", Scalar(prometheusRule, "runbookUrl"));
    }

    static YamlMappingNode Values()
    {
        using var reader = new StreamReader(Path.Combine(Repository.Chart, "values.yaml"));
        var stream = new YamlStream();
        stream.Load(reader);
        return (YamlMappingNode)stream.Documents[0].RootNode;
    }

    static string? Scalar(YamlNode node, string key) => ((YamlScalarNode)((YamlMappingNode)node)[key]).Value;
}
