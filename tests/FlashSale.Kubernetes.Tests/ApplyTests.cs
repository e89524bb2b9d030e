using FlashSale.Kubernetes.Fake;
using FlashSale.Kubernetes.Models;

namespace FlashSale.Kubernetes.Tests;

public sealed class ApplyTests : FakeApiServerTest
{
    private const string Operator = "flashsale-operator";

    [Fact]
    public async Task ApplyCreatesThenUpdatesAndRemovesAFieldTheManagerStoppedSending()
    {
        var desired = TestKit.Deployment("orders", replicas: 2);
        desired.Metadata.Labels!["tier"] = "web";
        desired.Metadata.Annotations = new Dictionary<string, string> { ["flashsale.dev/sale"] = "spring" };
        var created = await client.ApplyAsync(desired, Operator);
        Assert.Equal(2, created.Spec!.Replicas);
        Assert.Equal("web", created.Metadata.Labels!["tier"]);
        Assert.Equal(1, created.Metadata.Generation);

        var next = TestKit.Deployment("orders", replicas: 3, image: "flashsale/orders:2");
        var updated = await client.ApplyAsync(next, Operator);

        Assert.Equal(3, updated.Spec!.Replicas);
        Assert.Equal("flashsale/orders:2", updated.Spec.Template!.Spec!.Containers![0].Image);
        Assert.False(updated.Metadata.Labels!.ContainsKey("tier"));
        Assert.Null(updated.Metadata.Annotations);
        Assert.Equal(created.Metadata.Uid, updated.Metadata.Uid);
        Assert.Equal(2, updated.Metadata.Generation);

        var apply = fake.Requests.Last(r => r.Verb == "patch");
        Assert.Equal(KubernetesClient.ApplyPatchContentType, apply.ContentType);
        Assert.Equal(Operator, apply.FieldManager);
    }

    [Fact]
    public async Task ApplyKeepsFieldsThatAnotherManagerAlsoSetsOrOwns()
    {
        var mine = TestKit.ConfigMap("settings", new Dictionary<string, string> { ["mine"] = "1" }, new Dictionary<string, string> { ["shared"] = "x" });
        await client.ApplyAsync(mine, Operator);
        var theirs = new V1ConfigMap
        {
            Metadata = new V1ObjectMeta { Name = "settings", NamespaceProperty = TestKit.Ns, Labels = new Dictionary<string, string> { ["theirs"] = "1" } },
            Data = new Dictionary<string, string> { ["shared"] = "x" },
        };
        await client.ApplyAsync(theirs, "kubectl");

        var reduced = TestKit.ConfigMap("settings", labels: null, data: new Dictionary<string, string> { ["other"] = "y" });
        var result = await client.ApplyAsync(reduced, Operator);

        Assert.Equal(new Dictionary<string, string> { ["theirs"] = "1" }, result.Metadata.Labels);
        Assert.Equal(new Dictionary<string, string> { ["shared"] = "x", ["other"] = "y" }, result.Data);
    }

    [Fact]
    public async Task ApplyOfAFieldAnotherManagerOwnsWithADifferentValueConflictsUnlessForced()
    {
        await client.ApplyAsync(TestKit.Deployment("stock", replicas: 2), Operator);
        await client.MergePatchAsync<V1Deployment>(TestKit.Ns, "stock", System.Text.Json.Nodes.JsonNode.Parse("""{"spec":{"replicas":5}}""")!, fieldManager: "kubectl-scale");

        var conflict = await Assert.ThrowsAsync<KubernetesConflictException>(() => client.ApplyAsync(TestKit.Deployment("stock", replicas: 2), Operator));
        Assert.Contains("kubectl-scale", conflict.Message);
        Assert.Contains(".spec.replicas", conflict.Message);
        Assert.Equal(5, (await client.GetAsync<V1Deployment>(TestKit.Ns, "stock"))!.Spec!.Replicas);

        var forced = await client.ApplyAsync(TestKit.Deployment("stock", replicas: 2), Operator, force: true);
        Assert.Equal(2, forced.Spec!.Replicas);
        var owners = fake.GetManagedFields(V1Deployment.ApiResource, TestKit.Ns, "stock");
        Assert.Contains(".spec.replicas", owners[$"{Operator} (Apply)"]);
        Assert.DoesNotContain(owners, o => o.Key.StartsWith("kubectl-scale", StringComparison.Ordinal) && o.Value.Contains(".spec.replicas"));
    }

    [Fact]
    public async Task ApplyingTheSameObjectAgainChangesNothing()
    {
        var first = await client.ApplyAsync(TestKit.Deployment("users"), Operator);
        var second = await client.ApplyAsync(TestKit.Deployment("users"), Operator);
        Assert.Equal(first.Metadata.ResourceVersion, second.Metadata.ResourceVersion);
        Assert.Equal(1, second.Metadata.Generation);
    }

    [Fact]
    public async Task ApplyToTheObjectIgnoresStatusAndApplyToStatusChangesOnlyStatus()
    {
        var desired = TestKit.Sale("summer", stock: 10);
        desired.Status = new TestSaleStatus { Phase = "Live" };
        var created = await client.ApplyAsync(desired, Operator);
        Assert.Null(created.Status);

        var statusOnly = new TestSale
        {
            Metadata = new V1ObjectMeta { Name = "summer", NamespaceProperty = TestKit.Ns },
            Spec = new TestSaleSpec { Stock = 999 },
            Status = new TestSaleStatus { Phase = "Scheduled", ObservedGeneration = 1 },
        };
        var withStatus = await client.ApplyStatusAsync(statusOnly, Operator);
        Assert.Equal("Scheduled", withStatus.Status!.Phase);
        Assert.Equal(10, withStatus.Spec!.Stock);
        Assert.Equal(1, withStatus.Metadata.Generation);
        Assert.Contains(fake.Requests, r => r.Verb == "patch" && r.RbacResource == "testsales/status");

        // Stopping to send a status field removes it, as for the object.
        statusOnly.Status = new TestSaleStatus { ObservedGeneration = 1 };
        var reduced = await client.ApplyStatusAsync(statusOnly, Operator);
        Assert.Null(reduced.Status!.Phase);
        Assert.Equal(1, reduced.Status.ObservedGeneration);
    }

    [Fact]
    public async Task ApplyWithAStaleResourceVersionIsAConflict()
    {
        var created = await client.ApplyAsync(TestKit.ConfigMap("versioned"), Operator);
        await client.ApplyAsync(TestKit.ConfigMap("versioned", data: new Dictionary<string, string> { ["key"] = "new" }), Operator);
        var stale = TestKit.ConfigMap("versioned", data: new Dictionary<string, string> { ["key"] = "old" });
        stale.Metadata.ResourceVersion = created.Metadata.ResourceVersion;
        await Assert.ThrowsAsync<KubernetesConflictException>(() => client.ApplyAsync(stale, Operator));
    }
}
