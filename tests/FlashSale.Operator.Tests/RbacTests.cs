using FlashSale.Operator.Controller;
using FlashSale.Operator.Entities;
using FlashSale.Operator.Kubernetes;
using FlashSale.TestSupport;
using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging;
using YamlDotNet.Serialization;

namespace FlashSale.Operator.Tests;

public class RbacTests
{
    static readonly string RbacDirectory = Path.Combine(Infra.RepoRoot, "charts", "flashsale-operator", "files", "rbac");

    // Granted but invisible to the fake: the API server checks it when an owner reference sets blockOwnerDeletion.
    static readonly (string Group, string Resource, string Verb)[] NotObservable = [("flashsale.dev", "flashsales/finalizers", "update")];

    [Fact]
    public async Task TheChartGrantsExactlyTheVerbsTheOperatorUses()
    {
        await using var h = await Harness.StartAsync();
        h.Server.RegisterKind(Harness.ServiceMonitors);
        var app = RuntimeTests.StartOperatorHost(h, "rbac", leaderElection: true);
        await app.StartAsync();
        try
        {
            var example = h.Example();
            example.Spec!.CleanupPolicy = "Delete";
            var fs = await h.CreateAsync(example);
            await RuntimeTests.WaitForAsync(() => h.Server.Get<V2HorizontalPodAutoscaler>(h.Namespace, $"{fs.Name()}-orders") is not null
                && h.Server.Get<V1Alpha1FlashSale>(h.Namespace, fs.Name())?.Status?.Phase is not null, "the first reconcile");
            h.Server.Modify<V1Alpha1FlashSale>(h.Namespace, fs.Name(), sale => sale.Spec!.Services!.Orders!.Autoscaling = null);
            await RuntimeTests.WaitForAsync(() => h.Server.Get<V2HorizontalPodAutoscaler>(h.Namespace, $"{fs.Name()}-orders") is null, "the HPA to be removed");
            await h.DeleteAsync(fs.Name());
            await RuntimeTests.WaitForAsync(() => h.Server.Get<V1Alpha1FlashSale>(h.Namespace, fs.Name()) is null, "the finalizer to be released");
        }
        finally
        {
            await app.DisposeAsync();
        }

        var used = h.Server.Requests
            .Where(r => r.UserAgent?.StartsWith("flashsale-operator", StringComparison.Ordinal) == true && r.Resource is not null)
            .Select(r => (Group: r.Group ?? "", Resource: r.RbacResource!, r.Verb))
            .ToHashSet();
        var workloads = Rules("workloads.yaml");
        var cluster = Rules("cluster.yaml");
        var leaderElection = Rules("leader-election.yaml");
        var granted = workloads.Concat(cluster).Concat(leaderElection).ToHashSet();

        Assert.Empty(used.Where(u => !granted.Contains(u)).Select(u => $"{u.Verb} {u.Resource}.{u.Group}"));
        Assert.Empty(granted.Where(g => !used.Contains(g) && !NotObservable.Contains(g)).Select(g => $"{g.Verb} {g.Resource}.{g.Group}"));
        Assert.All(used.Where(u => u.Resource == "leases"), u => Assert.Contains(u, leaderElection));
        Assert.All(used.Where(u => u.Resource == "customresourcedefinitions"), u => Assert.Contains(u, cluster));
    }

    static HashSet<(string Group, string Resource, string Verb)> Rules(string file)
    {
        var rules = new DeserializerBuilder().Build().Deserialize<List<Dictionary<string, List<string>>>>(File.ReadAllText(Path.Combine(RbacDirectory, file)));
        return [.. from rule in rules
                   from g in rule["apiGroups"]
                   from r in rule["resources"]
                   from v in rule["verbs"]
                   select (g, r, v)];
    }
}
