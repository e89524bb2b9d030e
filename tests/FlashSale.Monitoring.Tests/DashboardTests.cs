using System.Text.Json;

namespace FlashSale.Monitoring.Tests;

public sealed class DashboardTests
{
    const string DatasourceVariable = "${datasource}";
    static readonly JsonElement Dashboard = JsonDocument.Parse(File.ReadAllText(Repository.Dashboard)).RootElement;
    static IEnumerable<JsonElement> Panels => Dashboard.GetProperty("panels").EnumerateArray();

    [Fact]
    public void HasASchemaVersionAndAStableUid()
    {
        Assert.True(Dashboard.GetProperty("schemaVersion").GetInt32() > 0);
        Assert.Equal("flashsale-sale", Dashboard.GetProperty("uid").GetString());
        Assert.False(string.IsNullOrWhiteSpace(Dashboard.GetProperty("title").GetString()));
    }

    [Fact]
    public void TheDatasourceIsAPrometheusVariableAndNamespaceAndSaleAreQueries()
    {
        var variables = Dashboard.GetProperty("templating").GetProperty("list").EnumerateArray()
            .ToDictionary(v => v.GetProperty("name").GetString()!, v => v);
        Assert.Equal("datasource", variables["datasource"].GetProperty("type").GetString());
        Assert.Equal("prometheus", variables["datasource"].GetProperty("query").GetString());
        foreach (var name in new[] { "namespace", "sale" })
        {
            Assert.Equal("query", variables[name].GetProperty("type").GetString());
            Assert.Equal(DatasourceVariable, variables[name].GetProperty("datasource").GetProperty("uid").GetString());
        }
    }

    [Fact]
    public void EveryPanelAndTargetUsesTheDatasourceVariable() =>
        Assert.All(Panels, panel =>
        {
            Assert.Equal(DatasourceVariable, panel.GetProperty("datasource").GetProperty("uid").GetString());
            Assert.All(panel.GetProperty("targets").EnumerateArray(),
                target => Assert.Equal(DatasourceVariable, target.GetProperty("datasource").GetProperty("uid").GetString()));
        });

    [Fact]
    public void EveryPanelQueriesSomething() =>
        Assert.All(Panels, panel =>
        {
            var targets = panel.GetProperty("targets").EnumerateArray().ToList();
            Assert.NotEmpty(targets);
            Assert.All(targets, t => Assert.False(string.IsNullOrWhiteSpace(t.GetProperty("expr").GetString()), Title(panel)));
        });

    [Fact]
    public void PanelIdsAreUniqueAndEveryPanelHasAPlace()
    {
        var ids = Panels.Select(p => p.GetProperty("id").GetInt32()).ToList();
        Assert.Equal(ids.Count, ids.Distinct().Count());
        Assert.All(Panels, panel =>
        {
            var grid = panel.GetProperty("gridPos");
            Assert.True(grid.GetProperty("w").GetInt32() > 0 && grid.GetProperty("h").GetInt32() > 0, Title(panel));
            Assert.True(grid.GetProperty("x").GetInt32() + grid.GetProperty("w").GetInt32() <= 24, Title(panel));
            Assert.True(grid.GetProperty("y").GetInt32() >= 0, Title(panel));
        });
    }

    [Fact]
    public void SaleQueriesAreScopedToTheChosenNamespace()
    {
        // The operator's panels are the exception: it reconciles every namespace's sales.
        var exprs = Panels.SelectMany(p => p.GetProperty("targets").EnumerateArray()).Select(t => t.GetProperty("expr").GetString()!)
            .Where(e => !Regex.IsMatch(e, "controller_runtime_|workqueue_"));
        Assert.All(exprs, expr => Assert.Contains("namespace=\"$namespace\"", expr));
    }

    [Theory]
    [InlineData("flashsale_orders_answers_total")]
    [InlineData("http_server_request_duration_seconds_bucket")]
    [InlineData("flashsale_orders_outbox_backlog")]
    [InlineData("flashsale_orders_outbox_oldest_age_seconds")]
    [InlineData("flashsale_messaging_dead_letters")]
    [InlineData("flashsale_orders_payment_breaker_state")]
    [InlineData("kube_deployment_status_replicas_available")]
    [InlineData("kube_horizontalpodautoscaler_status_desired_replicas")]
    [InlineData("controller_runtime_reconcile_errors_total")]
    [InlineData("workqueue_depth")]
    public void ShowsTheMetric(string metric) =>
        Assert.Contains(Panels.SelectMany(p => p.GetProperty("targets").EnumerateArray()), t => t.GetProperty("expr").GetString()!.Contains(metric));

    static string Title(JsonElement panel) => panel.TryGetProperty("title", out var t) ? t.GetString() ?? "" : "";
}
