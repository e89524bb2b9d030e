using System.Net;
using k8s;
using k8s.Models;

namespace FlashSale.Kubernetes.Tests;

public sealed class FinalizerAndGarbageCollectionTests : FakeApiServerTest
{
    const string Finalizer = "flashsale.dev/cleanup";

    [Fact]
    public async Task DeletingAnObjectWithAFinalizerKeepsItMarkedUntilTheFinalizerIsRemoved()
    {
        var sale = TestKit.Sale("autumn");
        sale.Metadata.Finalizers = [Finalizer];
        var created = await client.CreateSaleAsync(sale);

        var marked = await client.DeleteSaleAsync("autumn");

        Assert.NotNull(marked);
        Assert.NotNull(marked.Metadata.DeletionTimestamp);
        Assert.Equal(created.Metadata.Generation + 1, marked.Metadata.Generation);
        var stillThere = await client.GetSaleAsync("autumn");
        Assert.NotNull(stillThere.Metadata.DeletionTimestamp);

        // Deleting again changes nothing; the object waits for its finalizer.
        var again = await client.DeleteSaleAsync("autumn");
        Assert.Equal(stillThere.Metadata.ResourceVersion, again!.Metadata.ResourceVersion);

        await client.PatchSaleAsync("autumn", TestKit.Merge("""{"metadata":{"finalizers":null}}"""));

        Assert.Null(await client.GetSaleAsync("autumn").OrNull());
    }

    [Fact]
    public async Task NoFinalizerCanBeAddedToAnObjectBeingDeleted()
    {
        var sale = TestKit.Sale("winter");
        sale.Metadata.Finalizers = [Finalizer];
        await client.CreateSaleAsync(sale);
        var marked = await client.DeleteSaleAsync("winter");

        marked!.Metadata.Finalizers.Add("someone.else/finalizer");
        var status = await TestKit.RefusalAsync(() => client.CustomObjects.ReplaceNamespacedCustomObjectAsync<TestSale>(marked, TestSale.Group, TestSale.Version, TestKit.Ns, TestSale.Plural, "winter"));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, status);
    }

    [Fact]
    public async Task DependentsAreCollectedAfterTheirOwnerIsGone()
    {
        var sale = TestKit.Sale("flash");
        sale.Metadata.Finalizers = [Finalizer];
        var owner = await client.CreateSaleAsync(sale);
        foreach (var name in new[] { "flash-orders", "flash-stock" })
        {
            var deployment = TestKit.Deployment(name);
            deployment.Metadata.OwnerReferences = [TestKit.OwnerReference(owner)];
            await client.AppsV1.PatchNamespacedDeploymentAsync(TestKit.Apply(deployment), name, TestKit.Ns, fieldManager: TestKit.Manager);
        }

        var unrelated = await client.AppsV1.CreateNamespacedDeploymentAsync(TestKit.Deployment("unrelated"), TestKit.Ns);

        await client.DeleteSaleAsync("flash");
        await Task.Delay(200);
        Assert.Equal(3, (await client.AppsV1.ListNamespacedDeploymentAsync(TestKit.Ns)).Items.Count);

        await client.PatchSaleAsync("flash", TestKit.Merge("""{"metadata":{"finalizers":[]}}"""));

        await TestKit.WaitUntilAsync(async () => (await client.AppsV1.ListNamespacedDeploymentAsync(TestKit.Ns)).Items.Count == 1, "the dependents were collected");
        Assert.Equal(unrelated.Metadata.Uid, (await client.AppsV1.ReadNamespacedDeploymentAsync("unrelated", TestKit.Ns)).Metadata.Uid);
    }

    [Fact]
    public async Task ForegroundDeletionRemovesDependentsBeforeTheOwner()
    {
        var owner = await client.CreateSaleAsync(TestKit.Sale("foreground"));
        var dependent = TestKit.ConfigMap("foreground-config");
        dependent.Metadata.OwnerReferences = [TestKit.OwnerReference(owner)];
        dependent.Metadata.Finalizers = [Finalizer];
        await client.CoreV1.CreateNamespacedConfigMapAsync(dependent, TestKit.Ns);

        var marked = await client.DeleteSaleAsync("foreground", "Foreground");

        Assert.Contains("foregroundDeletion", marked!.Metadata.Finalizers);
        await TestKit.WaitUntilAsync(async () => (await client.CoreV1.ReadNamespacedConfigMapAsync("foreground-config", TestKit.Ns)).Metadata.DeletionTimestamp is not null, "the dependent is being deleted");
        Assert.NotNull(await client.GetSaleAsync("foreground"));

        await client.CoreV1.PatchNamespacedConfigMapAsync(TestKit.Merge("""{"metadata":{"finalizers":null}}"""), "foreground-config", TestKit.Ns);

        await TestKit.WaitUntilAsync(async () => await client.GetSaleAsync("foreground").OrNull() is null, "the owner is gone after its dependent");
    }

    [Fact]
    public async Task OrphanDeletionLeavesDependentsWithoutTheOwnerReference()
    {
        var owner = await client.CreateSaleAsync(TestKit.Sale("orphaning"));
        var dependent = TestKit.ConfigMap("orphan");
        dependent.Metadata.OwnerReferences = [TestKit.OwnerReference(owner)];
        await client.CoreV1.CreateNamespacedConfigMapAsync(dependent, TestKit.Ns);

        await client.DeleteSaleAsync("orphaning", "Orphan");

        await TestKit.WaitUntilAsync(async () => await client.GetSaleAsync("orphaning").OrNull() is null, "the owner is gone");
        var orphan = await client.CoreV1.ReadNamespacedConfigMapAsync("orphan", TestKit.Ns);
        Assert.Null(orphan.Metadata.OwnerReferences);
    }

    [Fact]
    public async Task ADependentWithAnotherLiveOwnerOnlyLosesTheDanglingReference()
    {
        var first = await client.CreateSaleAsync(TestKit.Sale("first"));
        var second = await client.CreateSaleAsync(TestKit.Sale("second"));
        var shared = TestKit.ConfigMap("shared");
        shared.Metadata.OwnerReferences = [TestKit.OwnerReference(first, controller: false), TestKit.OwnerReference(second, controller: false)];
        await client.CoreV1.CreateNamespacedConfigMapAsync(shared, TestKit.Ns);

        await client.DeleteSaleAsync("first");

        await TestKit.WaitUntilAsync(async () => (await client.CoreV1.ReadNamespacedConfigMapAsync("shared", TestKit.Ns)).Metadata.OwnerReferences?.Count == 1, "the dangling reference is removed");
        var remaining = (await client.CoreV1.ReadNamespacedConfigMapAsync("shared", TestKit.Ns)).Metadata.OwnerReferences.Single();
        Assert.Equal(second.Metadata.Uid, remaining.Uid);
    }

    [Fact]
    public async Task ADeleteWithAStaleResourceVersionPreconditionIsAConflict()
    {
        var created = await client.CoreV1.CreateNamespacedConfigMapAsync(TestKit.ConfigMap("guarded"), TestKit.Ns);
        await client.CoreV1.PatchNamespacedConfigMapAsync(TestKit.Merge("""{"data":{"key":"2"}}"""), "guarded", TestKit.Ns);
        var preconditioned = new V1DeleteOptions { Preconditions = new V1Preconditions { ResourceVersion = created.Metadata.ResourceVersion } };
        Assert.Equal(HttpStatusCode.Conflict, await TestKit.RefusalAsync(() => client.CoreV1.DeleteNamespacedConfigMapAsync("guarded", TestKit.Ns, body: preconditioned)));
        Assert.NotNull(await client.CoreV1.ReadNamespacedConfigMapAsync("guarded", TestKit.Ns));
    }
}
