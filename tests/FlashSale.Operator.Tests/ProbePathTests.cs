extern alias stocksvc;
using System.Net;
using FlashSale.Operator.Kubernetes;
using FlashSale.TestSupport;
using k8s;
using k8s.Models;
using StockProgram = stocksvc::Program;

namespace FlashSale.Operator.Tests;

/// <summary>The probes the operator writes must point at endpoints a real service answers (not 404).</summary>
public class ProbePathTests
{
    [Fact]
    public async Task EveryProbePathOfTheProvisionedDeploymentsIsAnsweredByARealService()
    {
        await Infra.RequireAsync();
        await using var h = await Harness.StartAsync();
        var fs = await h.CreateAsync(h.Example());
        await h.ReconcileAsync(fs.Name());

        var probes = h.Server.List<V1Deployment>(h.Namespace)
            .SelectMany(d => d.Spec!.Template!.Spec!.Containers!)
            .SelectMany(c => new[] { c.LivenessProbe, c.ReadinessProbe, c.StartupProbe })
            .ToList();
        Assert.All(probes, p => Assert.Equal("http", p!.HttpGet!.Port.ToString()));
        var paths = probes.Select(p => p!.HttpGet!.Path!).Distinct().ToList();
        Assert.NotEmpty(paths);

        await using var service = new ServiceHost<StockProgram>(new Dictionary<string, string?>
        {
            ["ConnectionStrings:Postgres"] = Infra.Postgres,
            ["ConnectionStrings:Redis"] = Infra.Redis,
            ["ConnectionStrings:RabbitMq"] = Infra.RabbitMq,
            ["Auth:Jwks"] = TestTokens.Jwks,
        });
        using var http = service.CreateClient();
        foreach (var path in paths)
        {
            using var response = await http.GetAsync(path);
            Assert.True(response.StatusCode is HttpStatusCode.OK or HttpStatusCode.ServiceUnavailable,
                $"probe path {path} answered {(int)response.StatusCode}");
        }
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync("/healthz/nonexistent")).StatusCode);
    }
}
