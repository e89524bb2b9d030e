namespace FlashSale.Monitoring.Tests;

/// <summary>
/// The dashboard and the alert rules against what the services really export: a short sale on the rendered platform,
/// scraped by a real Prometheus (see <see cref="MonitoredSale"/>).
/// </summary>
public sealed partial class LocalPlatformMetricsTests(MonitoredSale sale) : IClassFixture<MonitoredSale>
{
    /// <summary>
    /// Series that only Kubernetes or the operator produce (kube-state-metrics: replicas and HPAs; the operator's
    /// controller-runtime metrics), which a local platform of the four services cannot have.
    /// </summary>
    static bool KubernetesOrOperatorOnly(string metric) =>
        metric.StartsWith("kube_", StringComparison.Ordinal) || metric.StartsWith("controller_runtime_", StringComparison.Ordinal)
        || metric.StartsWith("workqueue_", StringComparison.Ordinal) || metric.StartsWith("leader_election_", StringComparison.Ordinal);

    /// <summary>
    /// Exported only while the users service cannot reach Redis; the platform shares the local Redis with other tests, so
    /// this test cannot take it away.
    /// </summary>
    static readonly string[] OnlyInAnOutage = ["users_login_throttle_fallbacks_total"];

    public static TheoryData<string, string> PanelQueries()
    {
        var data = new TheoryData<string, string>();
        foreach (var (panel, expr) in PromQl.DashboardQueries().Where(q => !PromQl.Metrics(q.Expr).Any(KubernetesOrOperatorOnly)))
            data.Add(panel, expr);
        return data;
    }

    [Theory]
    [MemberData(nameof(PanelQueries))]
    public async Task EveryDashboardQueryReturnsASeriesForTheSale(string panel, string expr)
    {
        var query = expr.Replace("$namespace", MonitoredSale.Namespace).Replace("$sale", sale.Sale).Replace("$__rate_interval", "1m");
        var series = await sale.Prometheus.QueryAsync(query);
        Assert.True(series.Count > 0, $"panel '{panel}': {query} returned no series");
    }

    [Fact]
    public async Task TheSaleVariableFindsTheSaleFromItsServices()
    {
        var series = await sale.Prometheus.QueryAsync(
            $"count by (service) (http_server_request_duration_seconds_count{{namespace=\"{MonitoredSale.Namespace}\", service=~\".+-(users|stock|orders|notifications)\"}})");
        var sales = series.Select(s => SaleOfService().Match(s.GetProperty("metric").GetProperty("service").GetString()!).Groups[1].Value).ToHashSet();
        Assert.Contains(sale.Sale, sales);
    }

    [Fact]
    public void EveryMetricARuleOrPanelNamesIsExportedBySomeService()
    {
        var named = PromQl.RuleExpressions().Concat(PromQl.DashboardQueries().Select(q => q.Expr)).SelectMany(PromQl.Metrics)
            .Where(m => !KubernetesOrOperatorOnly(m) && !OnlyInAnOutage.Contains(m)).ToHashSet(StringComparer.Ordinal);
        var exported = sale.Exposition.Values.SelectMany(Exposition.SeriesNames).ToHashSet(StringComparer.Ordinal);
        Assert.All(named.Order(StringComparer.Ordinal), m => Assert.True(exported.Contains(m), $"{m} is named by a rule or panel but no service exports it"));
    }

    [Theory]
    [InlineData("users", "users")]
    [InlineData("orders", "orders.expiry")]
    [InlineData("stock", "stock")]
    [InlineData("notifications", "notifications")]
    public void EveryConsumerExportsTheDepthOfItsQueueAndItsDeadLetters(string service, string queue)
    {
        var name = $"flashsale.{MonitoredSale.Namespace}.{sale.Sale}.{queue}";
        Assert.Contains($"flashsale_messaging_queue_messages{{queue=\"{name}\"}}", sale.Exposition[service]);
        Assert.Contains($"flashsale_messaging_dead_letters{{queue=\"{name}\"}} 0", sale.Exposition[service]);
    }

    [Fact]
    public void TheRulesAndPanelsNameMetricsTheExemptionsCover()
    {
        // Keeps the exemptions honest: each one is still named somewhere.
        var named = PromQl.RuleExpressions().Concat(PromQl.DashboardQueries().Select(q => q.Expr)).SelectMany(PromQl.Metrics).ToHashSet();
        Assert.All(OnlyInAnOutage, m => Assert.Contains(m, named));
    }

    [Fact]
    public void DocsMetricsListsExactlyTheMetricsTheServicesExport()
    {
        var documented = MetricsReference.Read();
        var exported = sale.Exposition.Values.SelectMany(Exposition.Families)
            .GroupBy(f => f.Name).ToDictionary(g => g.Key, g => (g.First().Type, Labels: g.SelectMany(f => f.Labels).ToHashSet()));
        Assert.All(exported.Keys.Order(StringComparer.Ordinal), name =>
        {
            Assert.True(documented.ContainsKey(name), $"{name} is exported but not in docs/metrics.md");
            Assert.Equal(documented[name].Type, exported[name].Type);
            Assert.All(exported[name].Labels, l => Assert.True(documented[name].Labels.Contains(l), $"{name}: label {l} is exported but not documented"));
        });
        Assert.All(documented.Keys.Where(n => !OnlyInAnOutage.Contains(n)).Order(StringComparer.Ordinal),
            name => Assert.True(exported.ContainsKey(name), $"{name} is in docs/metrics.md but no service exported it"));
    }

    [GeneratedRegex("^(.+)-(?:users|stock|orders|notifications)$")]
    private static partial Regex SaleOfService();
}
