using System.Text.Json.Nodes;
using FlashSale.Kubernetes.Fake;
using FlashSale.Kubernetes.Models;

namespace FlashSale.Kubernetes.Tests;

public sealed class FinalizerAndGarbageCollectionTests : FakeApiServerTest
{
    private const string Finalizer = "flashsale.dev/cleanup";

    [Fact]
    public async Task DeletingAnObjectWithAFinalizerKeepsItMarkedUntilTheFinalizerIsRemoved()
    {
        var sale = TestKit.Sale("autumn");
        sale.Metadata.Finalizers = [Finalizer];
        var created = await client.CreateAsync(sale);

        var marked = await client.DeleteAsync<TestSale>(TestKit.Ns, "autumn");

        Assert.NotNull(marked);
        Assert.NotNull(marked.Metadata.DeletionTimestamp);
        Assert.Equal(created.Metadata.Generation + 1, marked.Metadata.Generation);
        var stillThere = await client.GetAsync<TestSale>(TestKit.Ns, "autumn");
        Assert.NotNull(stillThere?.Metadata.DeletionTimestamp);

        // Deleting again changes nothing; the object waits for its finalizer.
        var again = await client.DeleteAsync<TestSale>(TestKit.Ns, "autumn");
        Assert.Equal(stillThere.Metadata.ResourceVersion, again!.Metadata.ResourceVersion);

        await client.MergePatchAsync<TestSale>(TestKit.Ns, "autumn", JsonNode.Parse("""{"metadata":{"finalizers":null}}""")!);

        Assert.Null(await client.GetAsync<TestSale>(TestKit.Ns, "autumn"));
    }

    [Fact]
    public async Task NoFinalizerCanBeAddedToAnObjectBeingDeleted()
    {
        var sale = TestKit.Sale("winter");
        sale.Metadata.Finalizers = [Finalizer];
        await client.CreateAsync(sale);
        var marked = await client.DeleteAsync<TestSale>(TestKit.Ns, "winter");

        marked!.Metadata.Finalizers!.Add("someone.else/finalizer");
        var error = await Assert.ThrowsAsync<KubernetesApiException>(() => client.ReplaceAsync(marked));
        Assert.Equal(422, (int)error.StatusCode);
    }

    [Fact]
    public async Task DependentsAreCollectedAfterTheirOwnerIsGone()
    {
        var sale = TestKit.Sale("flash");
        sale.Metadata.Finalizers = [Finalizer];
        var owner = await client.CreateAsync(sale);
        var reference = owner.ToOwnerReference();
        foreach (var name in new[] { "flash-orders", "flash-stock" })
        {
            var deployment = TestKit.Deployment(name);
            deployment.Metadata.OwnerReferences = [reference];
            await client.ApplyAsync(deployment, "flashsale-operator");
        }

        var unrelated = await client.CreateAsync(TestKit.Deployment("unrelated"));

        await client.DeleteAsync<TestSale>(TestKit.Ns, "flash");
        await Task.Delay(200);
        Assert.Equal(3, (await client.ListAsync<V1Deployment>(TestKit.Ns)).Items.Count);

        await client.MergePatchAsync<TestSale>(TestKit.Ns, "flash", JsonNode.Parse("""{"metadata":{"finalizers":[]}}""")!);

        await TestKit.WaitUntilAsync(async () => (await client.ListAsync<V1Deployment>(TestKit.Ns)).Items.Count == 1, "the dependents were collected");
        Assert.Equal(unrelated.Metadata.Uid, (await client.GetAsync<V1Deployment>(TestKit.Ns, "unrelated"))!.Metadata.Uid);
    }

    [Fact]
    public async Task ForegroundDeletionRemovesDependentsBeforeTheOwner()
    {
        var owner = await client.CreateAsync(TestKit.Sale("foreground"));
        var dependent = TestKit.ConfigMap("foreground-config");
        dependent.Metadata.OwnerReferences = [owner.ToOwnerReference()];
        dependent.Metadata.Finalizers = [Finalizer];
        await client.CreateAsync(dependent);

        var marked = await client.DeleteAsync<TestSale>(TestKit.Ns, "foreground", PropagationPolicy.Foreground);

        Assert.Contains("foregroundDeletion", marked!.Metadata.Finalizers!);
        await TestKit.WaitUntilAsync(async () => (await client.GetAsync<V1ConfigMap>(TestKit.Ns, "foreground-config"))?.Metadata.DeletionTimestamp is not null, "the dependent is being deleted");
        Assert.NotNull(await client.GetAsync<TestSale>(TestKit.Ns, "foreground"));

        await client.MergePatchAsync<V1ConfigMap>(TestKit.Ns, "foreground-config", JsonNode.Parse("""{"metadata":{"finalizers":null}}""")!);

        await TestKit.WaitUntilAsync(async () => await client.GetAsync<TestSale>(TestKit.Ns, "foreground") is null, "the owner is gone after its dependent");
    }

    [Fact]
    public async Task OrphanDeletionLeavesDependentsWithoutTheOwnerReference()
    {
        var owner = await client.CreateAsync(TestKit.Sale("orphaning"));
        var dependent = TestKit.ConfigMap("orphan");
        dependent.Metadata.OwnerReferences = [owner.ToOwnerReference()];
        await client.CreateAsync(dependent);

        await client.DeleteAsync<TestSale>(TestKit.Ns, "orphaning", PropagationPolicy.Orphan);

        await TestKit.WaitUntilAsync(async () => await client.GetAsync<TestSale>(TestKit.Ns, "orphaning") is null, "the owner is gone");
        var orphan = await client.GetAsync<V1ConfigMap>(TestKit.Ns, "orphan");
        Assert.NotNull(orphan);
        Assert.Null(orphan.Metadata.OwnerReferences);
    }

    [Fact]
    public async Task ADependentWithAnotherLiveOwnerOnlyLosesTheDanglingReference()
    {
        var first = await client.CreateAsync(TestKit.Sale("first"));
        var second = await client.CreateAsync(TestKit.Sale("second"));
        var shared = TestKit.ConfigMap("shared");
        shared.Metadata.OwnerReferences = [first.ToOwnerReference(controller: false), second.ToOwnerReference(controller: false)];
        await client.CreateAsync(shared);

        await client.DeleteAsync<TestSale>(TestKit.Ns, "first");

        await TestKit.WaitUntilAsync(async () => (await client.GetAsync<V1ConfigMap>(TestKit.Ns, "shared"))?.Metadata.OwnerReferences?.Count == 1, "the dangling reference is removed");
        var remaining = (await client.GetAsync<V1ConfigMap>(TestKit.Ns, "shared"))!.Metadata.OwnerReferences!.Single();
        Assert.Equal(second.Metadata.Uid, remaining.Uid);
    }

    [Fact]
    public async Task ADeleteWithAStaleResourceVersionPreconditionIsAConflict()
    {
        var created = await client.CreateAsync(TestKit.ConfigMap("guarded"));
        await client.MergePatchAsync<V1ConfigMap>(TestKit.Ns, "guarded", JsonNode.Parse("""{"data":{"key":"2"}}""")!);
        await Assert.ThrowsAsync<KubernetesConflictException>(() => client.DeleteAsync<V1ConfigMap>(TestKit.Ns, "guarded", resourceVersion: created.Metadata.ResourceVersion));
        Assert.NotNull(await client.GetAsync<V1ConfigMap>(TestKit.Ns, "guarded"));
    }
}
