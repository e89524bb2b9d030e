using System.Text.Json.Nodes;
using FlashSale.Kubernetes.Fake;
using FlashSale.Kubernetes.Models;

namespace FlashSale.Kubernetes.Tests;

public sealed class ClientCrudTests : FakeApiServerTest
{

    [Fact]
    public async Task CreateGetListReplaceAndDeleteRoundTripAnObject()
    {
        var created = await client.CreateAsync(TestKit.ConfigMap("prices", data: new Dictionary<string, string> { ["sku-1"] = "10" }));
        Assert.False(string.IsNullOrEmpty(created.Metadata.Uid));
        Assert.NotNull(created.Metadata.CreationTimestamp);
        Assert.False(string.IsNullOrEmpty(created.Metadata.ResourceVersion));

        var read = await client.GetAsync<V1ConfigMap>(TestKit.Ns, "prices");
        Assert.Equal("10", read!.Data!["sku-1"]);
        Assert.Equal(created.Metadata.Uid, read.Metadata.Uid);

        read.Data["sku-1"] = "12";
        var replaced = await client.ReplaceAsync(read);
        Assert.Equal("12", replaced.Data!["sku-1"]);
        Assert.True(long.Parse(replaced.Metadata.ResourceVersion!) > long.Parse(created.Metadata.ResourceVersion!));

        var list = await client.ListAsync<V1ConfigMap>(TestKit.Ns);
        var only = Assert.Single(list.Items);
        Assert.Equal("ConfigMap", only.Kind);
        Assert.Equal("v1", only.ApiVersion);
        Assert.Equal("12", only.Data!["sku-1"]);

        Assert.Null(await client.DeleteAsync<V1ConfigMap>(TestKit.Ns, "prices"));
        Assert.Null(await client.GetAsync<V1ConfigMap>(TestKit.Ns, "prices"));
    }

    [Fact]
    public async Task GettingAMissingObjectReturnsNullAndDeletingItThrowsNotFound()
    {
        Assert.Null(await client.GetAsync<V1Deployment>(TestKit.Ns, "nothing"));
        var error = await Assert.ThrowsAsync<KubernetesNotFoundException>(() => client.DeleteAsync<V1Deployment>(TestKit.Ns, "nothing"));
        Assert.Equal("NotFound", error.Reason);
    }

    [Fact]
    public async Task CreatingATakenNameThrowsAlreadyExists()
    {
        await client.CreateAsync(TestKit.ConfigMap("taken"));
        var error = await Assert.ThrowsAsync<KubernetesAlreadyExistsException>(() => client.CreateAsync(TestKit.ConfigMap("taken")));
        Assert.Equal(409, (int)error.StatusCode);
        Assert.Contains("taken", error.Message);
    }

    [Fact]
    public async Task ReplacingWithAStaleResourceVersionThrowsATypedConflict()
    {
        var first = await client.CreateAsync(TestKit.ConfigMap("contended"));
        var mine = await client.GetAsync<V1ConfigMap>(TestKit.Ns, "contended");
        var theirs = await client.GetAsync<V1ConfigMap>(TestKit.Ns, "contended");
        theirs!.Data!["key"] = "theirs";
        var replaced = await client.ReplaceAsync(theirs);
        Assert.NotEqual(first.Metadata.ResourceVersion, replaced.Metadata.ResourceVersion);

        mine!.Data!["key"] = "mine";
        var conflict = await Assert.ThrowsAsync<KubernetesConflictException>(() => client.ReplaceAsync(mine));
        Assert.Equal("Conflict", conflict.Reason);
        Assert.Equal("theirs", (await client.GetAsync<V1ConfigMap>(TestKit.Ns, "contended"))!.Data!["key"]);
    }

    [Fact]
    public async Task GenerateNameGivesEachCreatedObjectItsOwnName()
    {
        var template = new V1ConfigMap { Metadata = new V1ObjectMeta { GenerateName = "event-", NamespaceProperty = TestKit.Ns } };
        var a = await client.CreateAsync(template);
        var b = await client.CreateAsync(new V1ConfigMap { Metadata = new V1ObjectMeta { GenerateName = "event-", NamespaceProperty = TestKit.Ns } });
        Assert.StartsWith("event-", a.Metadata.Name);
        Assert.NotEqual(a.Metadata.Name, b.Metadata.Name);
    }

    [Fact]
    public async Task ListFiltersByLabelSelector()
    {
        await client.CreateAsync(TestKit.ConfigMap("a", new Dictionary<string, string> { ["app"] = "orders", ["tier"] = "web" }));
        await client.CreateAsync(TestKit.ConfigMap("b", new Dictionary<string, string> { ["app"] = "stock", ["tier"] = "web" }));
        await client.CreateAsync(TestKit.ConfigMap("c", new Dictionary<string, string> { ["app"] = "users" }));

        async Task<string[]> Names(string selector) =>
            [.. (await client.ListAsync<V1ConfigMap>(TestKit.Ns, selector)).Items.Select(i => i.Metadata.Name!)];

        Assert.Equal(["a"], await Names("app=orders"));
        Assert.Equal(["a", "b"], await Names("tier==web"));
        Assert.Equal(["b", "c"], await Names("app!=orders"));
        Assert.Equal(["a", "c"], await Names("app in (orders, users)"));
        Assert.Equal(["c"], await Names("!tier"));
        Assert.Equal(["b"], await Names("tier,app notin (orders)"));
    }

    [Fact]
    public async Task ListPagesWithContinueTokensUntilEveryObjectIsSeenOnce()
    {
        for (var i = 0; i < 7; i++)
        {
            await client.CreateAsync(TestKit.ConfigMap($"page-{i}"));
        }

        var seen = new List<string>();
        string? token = null;
        var pages = 0;
        do
        {
            var page = await client.ListAsync<V1ConfigMap>(TestKit.Ns, continueToken: token, limit: 3);
            seen.AddRange(page.Items.Select(i => i.Metadata.Name!));
            token = page.Continue;
            pages++;
        }
        while (token is not null);

        Assert.Equal(3, pages);
        Assert.Equal(Enumerable.Range(0, 7).Select(i => $"page-{i}"), seen);
    }

    [Fact]
    public async Task GenerationMovesOnSpecChangesOnly()
    {
        var created = await client.CreateAsync(TestKit.Deployment("orders"));
        Assert.Equal(1, created.Metadata.Generation);

        created.Metadata.Labels!["release"] = "blue";
        var relabelled = await client.ReplaceAsync(created);
        Assert.Equal(1, relabelled.Metadata.Generation);

        var statused = await client.PatchStatusAsync<V1Deployment>(TestKit.Ns, "orders", JsonNode.Parse("""{"status":{"availableReplicas":1}}""")!);
        Assert.Equal(1, statused.Metadata.Generation);

        statused.Spec!.Replicas = 3;
        var scaled = await client.ReplaceAsync(statused);
        Assert.Equal(2, scaled.Metadata.Generation);

        var patched = await client.MergePatchAsync<V1Deployment>(TestKit.Ns, "orders", JsonNode.Parse("""{"spec":{"replicas":4}}""")!);
        Assert.Equal(3, patched.Metadata.Generation);
    }

    [Fact]
    public async Task StatusIsWrittenOnlyThroughTheStatusSubresource()
    {
        var deployment = TestKit.Deployment("stock");
        deployment.Status = new V1DeploymentStatus { AvailableReplicas = 5 };
        var created = await client.CreateAsync(deployment);
        Assert.Null(created.Status);

        created.Status = new V1DeploymentStatus { AvailableReplicas = 7 };
        created.Spec!.Replicas = 2;
        var replaced = await client.ReplaceAsync(created);
        Assert.Null(replaced.Status);
        Assert.Equal(2, replaced.Spec!.Replicas);

        replaced.Status = new V1DeploymentStatus { AvailableReplicas = 2, ObservedGeneration = replaced.Metadata.Generation };
        replaced.Spec.Replicas = 9;
        var statusWritten = await client.ReplaceStatusAsync(replaced);
        Assert.Equal(2, statusWritten.Status!.AvailableReplicas);
        Assert.Equal(2, statusWritten.Spec!.Replicas);

        var patched = await client.PatchStatusAsync<V1Deployment>(TestKit.Ns, "stock", JsonNode.Parse("""{"spec":{"replicas":11},"status":{"readyReplicas":2}}""")!);
        Assert.Equal(2, patched.Spec!.Replicas);
        Assert.Equal(2, patched.Status!.ReadyReplicas);
        Assert.Equal(2, patched.Status.AvailableReplicas);
    }

    [Fact]
    public async Task MergePatchRemovesFieldsSetToNullAndHonoursAResourceVersionPrecondition()
    {
        var created = await client.CreateAsync(TestKit.ConfigMap("patched", data: new Dictionary<string, string> { ["keep"] = "1", ["drop"] = "2" }));
        var patched = await client.MergePatchAsync<V1ConfigMap>(TestKit.Ns, "patched", JsonNode.Parse("""{"data":{"drop":null,"add":"3"}}""")!);
        Assert.Equal(new Dictionary<string, string> { ["keep"] = "1", ["add"] = "3" }, patched.Data);

        var stale = new JsonObject { ["metadata"] = new JsonObject { ["resourceVersion"] = created.Metadata.ResourceVersion }, ["data"] = new JsonObject { ["keep"] = "9" } };
        await Assert.ThrowsAsync<KubernetesConflictException>(() => client.MergePatchAsync<V1ConfigMap>(TestKit.Ns, "patched", stale));
    }

    [Fact]
    public async Task CustomResourcesRoundTripWithTheirOwnJsonContextAndStatusSubresource()
    {
        var created = await client.CreateAsync(TestKit.Sale("spring", stock: 40));
        Assert.Equal("test.flashsale.dev/v1alpha1", created.ApiVersion);
        Assert.Equal(40, created.Spec!.Stock);

        var status = await client.PatchStatusAsync<TestSale>(TestKit.Ns, "spring", JsonNode.Parse("""{"status":{"phase":"Scheduled","observedGeneration":1}}""")!);
        Assert.Equal("Scheduled", status.Status!.Phase);

        var listed = Assert.Single((await client.ListAsync<TestSale>(null)).Items);
        Assert.Equal("TestSale", listed.Kind);
        Assert.Equal("Scheduled", listed.Status!.Phase);
    }

    [Fact]
    public async Task ACustomResourceDefinitionIsFoundOnceItsKindIsServed()
    {
        Assert.True(await client.CustomResourceDefinitionExistsAsync("testsales.test.flashsale.dev"));
        Assert.False(await client.CustomResourceDefinitionExistsAsync("servicemonitors.monitoring.coreos.com"));

        fake.RegisterKind(ApiResource.NamespacedKind("monitoring.coreos.com", "v1", "ServiceMonitor", "servicemonitors"), hasStatusSubresource: false);

        Assert.True(await client.CustomResourceDefinitionExistsAsync("servicemonitors.monitoring.coreos.com"));
        var definition = await client.GetAsync<V1CustomResourceDefinition>(null, "servicemonitors.monitoring.coreos.com");
        Assert.Equal("ServiceMonitor", definition!.Spec!.Names!.Kind);
        Assert.True(definition.Status!.Conditions.IsTrue("Established"));
    }

    [Fact]
    public async Task AnObjectGivenOnlyAsJsonIsAppliedToTheKindDiscoveryNames()
    {
        fake.RegisterKind(ApiResource.NamespacedKind("monitoring.coreos.com", "v1", "ServiceMonitor", "servicemonitors"), hasStatusSubresource: false);
        var monitor = JsonNode.Parse("""
            {
              "apiVersion": "monitoring.coreos.com/v1",
              "kind": "ServiceMonitor",
              "metadata": { "name": "orders", "namespace": "shop" },
              "spec": { "selector": { "matchLabels": { "app": "orders" } }, "endpoints": [ { "port": "http", "path": "/metrics" } ] }
            }
            """)!.AsObject();

        var applied = await client.ApplyAsync(monitor, "flashsale-operator");

        Assert.Equal("/metrics", applied["spec"]!["endpoints"]![0]!["path"]!.GetValue<string>());
        var stored = fake.GetObject(ApiResource.NamespacedKind("monitoring.coreos.com", "v1", "ServiceMonitor", "servicemonitors"), "shop", "orders");
        Assert.NotNull(stored);
        Assert.Contains(fake.Requests, r => r.Verb == "patch" && r.RbacResource == "servicemonitors" && r.FieldManager == "flashsale-operator");
    }

    [Fact]
    public async Task DiscoveryOfAKindTheServerDoesNotServeReturnsNull()
    {
        Assert.Null(await client.DiscoverAsync("monitoring.coreos.com/v1", "PodMonitor"));
        Assert.Equal(V1Deployment.ApiResource, await client.DiscoverAsync("apps/v1", "Deployment"));
    }

    [Fact]
    public async Task ClusterScopedObjectsAreAddressedWithoutANamespace()
    {
        var crd = await client.GetAsync<V1CustomResourceDefinition>(null, "testsales.test.flashsale.dev");
        Assert.NotNull(crd);
        Assert.Null(crd.Metadata.NamespaceProperty);
        Assert.Throws<ArgumentException>(() => V1Deployment.ApiResource.GetPath(null, "orders"));
    }
}
