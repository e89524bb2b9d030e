namespace FlashSale.Monitoring.Tests;

public sealed class AlertRuleTests
{
    static readonly IReadOnlyList<RuleFile.Alert> Alerts = RuleFile.Alerts(Repository.RuleFile);

    [Fact]
    public void PromtoolAcceptsTheRuleFile()
    {
        var result = Promtool.Run(Repository.RulesDirectory, "check", "rules", Path.GetFileName(Repository.RuleFile));
        Assert.True(result.ExitCode == 0, $"promtool check rules exited with {result.ExitCode}:\n{result.Output}");
    }

    [Fact]
    public void PromtoolUnitTestsOfTheRulesPass()
    {
        var result = Promtool.Run(Repository.RulesDirectory, "test", "rules", Path.GetFileName(Repository.RuleTestFile));
        Assert.True(result.ExitCode == 0, $"promtool test rules exited with {result.ExitCode}:\n{result.Output}");
    }

    [Fact]
    public void TheUnitTestsReadTheRuleFileTheChartShips() =>
        Assert.Equal(["flashsale-rules.yaml"], RuleFile.RuleFilesOfTests(Repository.RuleTestFile));

    [Fact]
    public void RulesComeInAnOperatorGroupAndASaleGroup()
    {
        Assert.Equal(["flashsale-operator", "flashsale-sale"], Alerts.Select(a => a.Group).Distinct());
        Assert.Equal(Alerts.Count, Alerts.Select(a => a.Name).Distinct().Count());
    }

    [Theory]
    [InlineData("FlashSaleOperatorReconcileErrors")]
    [InlineData("FlashSaleOperatorNoLeader")]
    [InlineData("FlashSaleOperatorQueueBacklog")]
    [InlineData("FlashSaleOperatorSlowReconciles")]
    [InlineData("FlashSaleOutboxEventsParked")]
    [InlineData("FlashSaleLoginLimitsPerReplica")]
    [InlineData("FlashSaleOrderLatencyHigh")]
    [InlineData("FlashSaleHighErrorRate")]
    [InlineData("FlashSaleOutboxBacklogGrowing")]
    [InlineData("FlashSaleOutboxStalled")]
    [InlineData("FlashSaleDeadLetters")]
    [InlineData("FlashSaleNotificationsFailing")]
    [InlineData("FlashSalePaymentBreakerOpen")]
    public void TheRuleFileHasTheAlert(string alert) => Assert.Contains(alert, Alerts.Select(a => a.Name));

    [Fact]
    public void EveryAlertHasARunbookSectionItsRunbookUrlPointsTo()
    {
        var sections = Regex.Matches(File.ReadAllText(Repository.Runbook), @"^#{2,3} +(\S+) *$", RegexOptions.Multiline)
            .Select(m => m.Groups[1].Value.ToLowerInvariant())
            .ToHashSet(StringComparer.Ordinal);
        Assert.All(Alerts, alert =>
        {
            Assert.Contains(alert.Name.ToLowerInvariant(), sections);
            Assert.Equal($"docs/alerts.md#{alert.Name.ToLowerInvariant()}", alert.Annotations.GetValueOrDefault("runbook_url"));
        });
    }

    [Fact]
    public void EveryAlertHasASummaryAndADescription() =>
        Assert.All(Alerts, alert =>
        {
            Assert.False(string.IsNullOrWhiteSpace(alert.Annotations.GetValueOrDefault("summary")), $"{alert.Name} has no summary");
            Assert.False(string.IsNullOrWhiteSpace(alert.Annotations.GetValueOrDefault("description")), $"{alert.Name} has no description");
        });

    [Fact]
    public void AnnotationsUsePrometheusTemplatingNotHelmEscapes() =>
        Assert.All(Alerts, alert => Assert.All(alert.Annotations.Values, value => Assert.DoesNotContain("{{ \"", value)));

    [Fact]
    public void EveryAlertHasATestCaseThatFiresIt()
    {
        var firing = RuleFile.AlertsTestedFiring(Repository.RuleTestFile);
        Assert.All(Alerts, alert => Assert.True(firing.Contains(alert.Name), $"No promtool test case expects {alert.Name} to fire"));
    }

    [Fact]
    public void EveryAlertHasATestCaseThatKeepsItSilent()
    {
        var silent = RuleFile.AlertsTestedSilent(Repository.RuleTestFile);
        Assert.All(Alerts, alert => Assert.True(silent.Contains(alert.Name), $"No promtool test case expects {alert.Name} to stay silent"));
    }

    [Fact]
    public void TheTestsNameOnlyAlertsThatExist()
    {
        var names = Alerts.Select(a => a.Name).ToHashSet(StringComparer.Ordinal);
        var tested = RuleFile.AlertsTestedFiring(Repository.RuleTestFile).Union(RuleFile.AlertsTestedSilent(Repository.RuleTestFile));
        Assert.All(tested, name => Assert.Contains(name, names));
    }
}
