using System.Net;
using FlashSale.Kubernetes.Fake;
using k8s;
using k8s.Models;

namespace FlashSale.Kubernetes.Tests;

/// <summary>Server-side apply as the official client sends it: typed Patch calls with ApplyPatch, fieldManager and force.</summary>
public sealed class ApplyTests : FakeApiServerTest
{
    Task<V1Deployment> ApplyAsync(V1Deployment deployment, string manager = TestKit.Manager, bool force = false) =>
        client.AppsV1.PatchNamespacedDeploymentAsync(TestKit.Apply(deployment), deployment.Metadata.Name, TestKit.Ns, fieldManager: manager, force: force);

    Task<V1ConfigMap> ApplyAsync(V1ConfigMap configMap, string manager = TestKit.Manager) =>
        client.CoreV1.PatchNamespacedConfigMapAsync(TestKit.Apply(configMap), configMap.Metadata.Name, TestKit.Ns, fieldManager: manager);

    [Fact]
    public async Task ApplyCreatesThenUpdatesAndRemovesAFieldTheManagerStoppedSending()
    {
        var desired = TestKit.Deployment("orders", replicas: 2);
        desired.Metadata.Labels["tier"] = "web";
        desired.Metadata.Annotations = new Dictionary<string, string> { ["flashsale.dev/sale"] = "spring" };
        var created = await ApplyAsync(desired);
        Assert.Equal(2, created.Spec.Replicas);
        Assert.Equal("web", created.Metadata.Labels["tier"]);
        Assert.Equal(1, created.Metadata.Generation);

        var updated = await ApplyAsync(TestKit.Deployment("orders", replicas: 3, image: "flashsale/orders:2"));

        Assert.Equal(3, updated.Spec.Replicas);
        Assert.Equal("flashsale/orders:2", updated.Spec.Template.Spec.Containers[0].Image);
        Assert.False(updated.Metadata.Labels.ContainsKey("tier"));
        Assert.Null(updated.Metadata.Annotations);
        Assert.Equal(created.Metadata.Uid, updated.Metadata.Uid);
        Assert.Equal(2, updated.Metadata.Generation);

        var apply = fake.Requests.Last(r => r.Verb == "patch");
        Assert.StartsWith(FakeKubeApiServer.ApplyPatchContentType, apply.ContentType);
        Assert.Equal(TestKit.Manager, apply.FieldManager);
    }

    [Fact]
    public async Task ApplyKeepsFieldsThatAnotherManagerAlsoSetsOrOwns()
    {
        await ApplyAsync(TestKit.ConfigMap("settings", new Dictionary<string, string> { ["mine"] = "1" }, new Dictionary<string, string> { ["shared"] = "x" }));
        await ApplyAsync(TestKit.ConfigMap("settings", new Dictionary<string, string> { ["theirs"] = "1" }, new Dictionary<string, string> { ["shared"] = "x" }), "kubectl");

        var result = await ApplyAsync(TestKit.ConfigMap("settings", labels: null, data: new Dictionary<string, string> { ["other"] = "y" }));

        Assert.Equal(new Dictionary<string, string> { ["theirs"] = "1" }, result.Metadata.Labels);
        Assert.Equal(new Dictionary<string, string> { ["shared"] = "x", ["other"] = "y" }, result.Data);
    }

    [Fact]
    public async Task ApplyOfAFieldAnotherManagerOwnsWithADifferentValueConflictsUnlessForced()
    {
        await ApplyAsync(TestKit.Deployment("stock", replicas: 2));
        await client.AppsV1.PatchNamespacedDeploymentAsync(TestKit.Merge("""{"spec":{"replicas":5}}"""), "stock", TestKit.Ns, fieldManager: "kubectl-scale");

        var conflict = await Assert.ThrowsAsync<k8s.Autorest.HttpOperationException>(() => ApplyAsync(TestKit.Deployment("stock", replicas: 2)));
        Assert.Equal(HttpStatusCode.Conflict, conflict.Response.StatusCode);
        Assert.Contains("kubectl-scale", conflict.Response.Content);
        Assert.Contains(".spec.replicas", conflict.Response.Content);
        Assert.Equal(5, (await client.AppsV1.ReadNamespacedDeploymentAsync("stock", TestKit.Ns)).Spec.Replicas);

        var forced = await ApplyAsync(TestKit.Deployment("stock", replicas: 2), force: true);
        Assert.Equal(2, forced.Spec.Replicas);
        var owners = fake.GetManagedFields(fake.KindOf<V1Deployment>(), TestKit.Ns, "stock");
        Assert.Contains(".spec.replicas", owners[$"{TestKit.Manager} (Apply)"]);
        Assert.DoesNotContain(owners, o => o.Key.StartsWith("kubectl-scale", StringComparison.Ordinal) && o.Value.Contains(".spec.replicas"));
    }

    [Fact]
    public async Task ApplyingTheSameObjectAgainChangesNothing()
    {
        var first = await ApplyAsync(TestKit.Deployment("users"));
        var second = await ApplyAsync(TestKit.Deployment("users"));
        Assert.Equal(first.Metadata.ResourceVersion, second.Metadata.ResourceVersion);
        Assert.Equal(1, second.Metadata.Generation);
    }

    [Fact]
    public async Task ApplyToTheObjectIgnoresStatusAndApplyToStatusChangesOnlyStatus()
    {
        var desired = TestKit.Sale("summer", stock: 10);
        desired.Status = new TestSaleStatus { Phase = "Live" };
        var created = await client.PatchSaleAsync("summer", TestKit.Apply(desired), TestKit.Manager);
        Assert.Null(created.Status);

        var statusOnly = new TestSale
        {
            Metadata = new V1ObjectMeta { Name = "summer", NamespaceProperty = TestKit.Ns },
            Spec = new TestSaleSpec { Stock = 999 },
            Status = new TestSaleStatus { Phase = "Scheduled", ObservedGeneration = 1 },
        };
        var withStatus = await client.PatchSaleStatusAsync("summer", TestKit.Apply(statusOnly), TestKit.Manager, force: true);
        Assert.Equal("Scheduled", withStatus.Status!.Phase);
        Assert.Equal(10, withStatus.Spec!.Stock);
        Assert.Equal(1, withStatus.Metadata.Generation);
        Assert.Contains(fake.Requests, r => r.Verb == "patch" && r.RbacResource == "testsales/status");

        // Stopping to send a status field removes it, as for the object.
        statusOnly.Status = new TestSaleStatus { ObservedGeneration = 1 };
        var reduced = await client.PatchSaleStatusAsync("summer", TestKit.Apply(statusOnly), TestKit.Manager, force: true);
        Assert.Null(reduced.Status!.Phase);
        Assert.Equal(1, reduced.Status.ObservedGeneration);
    }

    [Fact]
    public async Task ApplyWithAStaleResourceVersionIsAConflict()
    {
        var created = await ApplyAsync(TestKit.ConfigMap("versioned"));
        await ApplyAsync(TestKit.ConfigMap("versioned", data: new Dictionary<string, string> { ["key"] = "new" }));
        var stale = TestKit.ConfigMap("versioned", data: new Dictionary<string, string> { ["key"] = "old" });
        stale.Metadata.ResourceVersion = created.Metadata.ResourceVersion;
        Assert.Equal(HttpStatusCode.Conflict, await TestKit.RefusalAsync(() => ApplyAsync(stale)));
    }
}
