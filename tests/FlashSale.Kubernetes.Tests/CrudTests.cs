using System.Net;
using System.Text.Json.Nodes;
using FlashSale.Kubernetes.Fake;
using k8s;
using k8s.Models;

namespace FlashSale.Kubernetes.Tests;

/// <summary>The fake's reads and writes, as the official client makes them.</summary>
public sealed class CrudTests : FakeApiServerTest
{
    [Fact]
    public async Task CreateGetListReplaceAndDeleteRoundTripAnObject()
    {
        var created = await client.CoreV1.CreateNamespacedConfigMapAsync(TestKit.ConfigMap("prices", data: new Dictionary<string, string> { ["sku-1"] = "10" }), TestKit.Ns);
        Assert.False(string.IsNullOrEmpty(created.Metadata.Uid));
        Assert.NotNull(created.Metadata.CreationTimestamp);
        Assert.False(string.IsNullOrEmpty(created.Metadata.ResourceVersion));

        var read = await client.CoreV1.ReadNamespacedConfigMapAsync("prices", TestKit.Ns);
        Assert.Equal("10", read.Data["sku-1"]);
        Assert.Equal(created.Metadata.Uid, read.Metadata.Uid);

        read.Data["sku-1"] = "12";
        var replaced = await client.CoreV1.ReplaceNamespacedConfigMapAsync(read, "prices", TestKit.Ns);
        Assert.Equal("12", replaced.Data["sku-1"]);
        Assert.True(long.Parse(replaced.Metadata.ResourceVersion) > long.Parse(created.Metadata.ResourceVersion));

        var list = await client.CoreV1.ListNamespacedConfigMapAsync(TestKit.Ns);
        var only = Assert.Single(list.Items);
        Assert.Equal("12", only.Data["sku-1"]);

        await client.CoreV1.DeleteNamespacedConfigMapAsync("prices", TestKit.Ns);
        Assert.Null(await client.CoreV1.ReadNamespacedConfigMapAsync("prices", TestKit.Ns).OrNull());
    }

    [Fact]
    public async Task MissingObjectsTakenNamesAndStaleVersionsAreRefusedWithTheirStatus()
    {
        Assert.Equal(HttpStatusCode.NotFound, await TestKit.RefusalAsync(() => client.AppsV1.ReadNamespacedDeploymentAsync("nothing", TestKit.Ns)));
        Assert.Equal(HttpStatusCode.NotFound, await TestKit.RefusalAsync(() => client.AppsV1.DeleteNamespacedDeploymentAsync("nothing", TestKit.Ns)));

        await client.CoreV1.CreateNamespacedConfigMapAsync(TestKit.ConfigMap("taken"), TestKit.Ns);
        Assert.Equal(HttpStatusCode.Conflict, await TestKit.RefusalAsync(() => client.CoreV1.CreateNamespacedConfigMapAsync(TestKit.ConfigMap("taken"), TestKit.Ns)));

        var mine = await client.CoreV1.ReadNamespacedConfigMapAsync("taken", TestKit.Ns);
        var theirs = await client.CoreV1.ReadNamespacedConfigMapAsync("taken", TestKit.Ns);
        theirs.Data["key"] = "theirs";
        await client.CoreV1.ReplaceNamespacedConfigMapAsync(theirs, "taken", TestKit.Ns);
        mine.Data["key"] = "mine";
        Assert.Equal(HttpStatusCode.Conflict, await TestKit.RefusalAsync(() => client.CoreV1.ReplaceNamespacedConfigMapAsync(mine, "taken", TestKit.Ns)));
        Assert.Equal("theirs", (await client.CoreV1.ReadNamespacedConfigMapAsync("taken", TestKit.Ns)).Data["key"]);
    }

    [Fact]
    public async Task GenerateNameGivesEachCreatedObjectItsOwnName()
    {
        var a = await client.CoreV1.CreateNamespacedConfigMapAsync(new V1ConfigMap { Metadata = new V1ObjectMeta { GenerateName = "event-" } }, TestKit.Ns);
        var b = await client.CoreV1.CreateNamespacedConfigMapAsync(new V1ConfigMap { Metadata = new V1ObjectMeta { GenerateName = "event-" } }, TestKit.Ns);
        Assert.StartsWith("event-", a.Metadata.Name);
        Assert.NotEqual(a.Metadata.Name, b.Metadata.Name);
    }

    [Fact]
    public async Task ListFiltersByLabelSelector()
    {
        await client.CoreV1.CreateNamespacedConfigMapAsync(TestKit.ConfigMap("a", new Dictionary<string, string> { ["app"] = "orders", ["tier"] = "web" }), TestKit.Ns);
        await client.CoreV1.CreateNamespacedConfigMapAsync(TestKit.ConfigMap("b", new Dictionary<string, string> { ["app"] = "stock", ["tier"] = "web" }), TestKit.Ns);
        await client.CoreV1.CreateNamespacedConfigMapAsync(TestKit.ConfigMap("c", new Dictionary<string, string> { ["app"] = "users" }), TestKit.Ns);

        async Task<string[]> Names(string selector) =>
            [.. (await client.CoreV1.ListNamespacedConfigMapAsync(TestKit.Ns, labelSelector: selector)).Items.Select(i => i.Metadata.Name)];

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
            await client.CoreV1.CreateNamespacedConfigMapAsync(TestKit.ConfigMap($"page-{i}"), TestKit.Ns);
        }

        var seen = new List<string>();
        string? token = null;
        var pages = 0;
        do
        {
            var page = await client.CoreV1.ListNamespacedConfigMapAsync(TestKit.Ns, continueParameter: token, limit: 3);
            seen.AddRange(page.Items.Select(i => i.Metadata.Name));
            token = page.Continue();
            pages++;
        }
        while (!string.IsNullOrEmpty(token));

        Assert.Equal(3, pages);
        Assert.Equal(Enumerable.Range(0, 7).Select(i => $"page-{i}"), seen);
    }

    [Fact]
    public async Task GenerationMovesOnSpecChangesOnly()
    {
        var created = await client.AppsV1.CreateNamespacedDeploymentAsync(TestKit.Deployment("orders"), TestKit.Ns);
        Assert.Equal(1, created.Metadata.Generation);

        created.Metadata.Labels["release"] = "blue";
        var relabelled = await client.AppsV1.ReplaceNamespacedDeploymentAsync(created, "orders", TestKit.Ns);
        Assert.Equal(1, relabelled.Metadata.Generation);

        var statused = await client.AppsV1.PatchNamespacedDeploymentStatusAsync(TestKit.Merge("""{"status":{"availableReplicas":1}}"""), "orders", TestKit.Ns);
        Assert.Equal(1, statused.Metadata.Generation);

        statused.Spec.Replicas = 3;
        var scaled = await client.AppsV1.ReplaceNamespacedDeploymentAsync(statused, "orders", TestKit.Ns);
        Assert.Equal(2, scaled.Metadata.Generation);

        var patched = await client.AppsV1.PatchNamespacedDeploymentAsync(TestKit.Merge("""{"spec":{"replicas":4}}"""), "orders", TestKit.Ns);
        Assert.Equal(3, patched.Metadata.Generation);
    }

    [Fact]
    public async Task StatusIsWrittenOnlyThroughTheStatusSubresource()
    {
        var deployment = TestKit.Deployment("stock");
        deployment.Status = new V1DeploymentStatus { AvailableReplicas = 5 };
        var created = await client.AppsV1.CreateNamespacedDeploymentAsync(deployment, TestKit.Ns);
        Assert.Null(created.Status);

        created.Status = new V1DeploymentStatus { AvailableReplicas = 7 };
        created.Spec.Replicas = 2;
        var replaced = await client.AppsV1.ReplaceNamespacedDeploymentAsync(created, "stock", TestKit.Ns);
        Assert.Null(replaced.Status);
        Assert.Equal(2, replaced.Spec.Replicas);

        replaced.Status = new V1DeploymentStatus { AvailableReplicas = 2, ObservedGeneration = replaced.Metadata.Generation };
        replaced.Spec.Replicas = 9;
        var statusWritten = await client.AppsV1.ReplaceNamespacedDeploymentStatusAsync(replaced, "stock", TestKit.Ns);
        Assert.Equal(2, statusWritten.Status.AvailableReplicas);
        Assert.Equal(2, statusWritten.Spec.Replicas);

        var patched = await client.AppsV1.PatchNamespacedDeploymentStatusAsync(TestKit.Merge("""{"spec":{"replicas":11},"status":{"readyReplicas":2}}"""), "stock", TestKit.Ns);
        Assert.Equal(2, patched.Spec.Replicas);
        Assert.Equal(2, patched.Status.ReadyReplicas);
        Assert.Equal(2, patched.Status.AvailableReplicas);
    }

    [Fact]
    public async Task MergePatchRemovesFieldsSetToNullAndHonoursAResourceVersionPrecondition()
    {
        var created = await client.CoreV1.CreateNamespacedConfigMapAsync(TestKit.ConfigMap("patched", data: new Dictionary<string, string> { ["keep"] = "1", ["drop"] = "2" }), TestKit.Ns);
        var patched = await client.CoreV1.PatchNamespacedConfigMapAsync(TestKit.Merge("""{"data":{"drop":null,"add":"3"}}"""), "patched", TestKit.Ns);
        Assert.Equal(new Dictionary<string, string> { ["keep"] = "1", ["add"] = "3" }, patched.Data);

        var stale = new JsonObject { ["metadata"] = new JsonObject { ["resourceVersion"] = created.Metadata.ResourceVersion }, ["data"] = new JsonObject { ["keep"] = "9" } };
        Assert.Equal(HttpStatusCode.Conflict, await TestKit.RefusalAsync(() => client.CoreV1.PatchNamespacedConfigMapAsync(new V1Patch(stale, V1Patch.PatchType.MergePatch), "patched", TestKit.Ns)));
    }

    [Theory]
    [InlineData(V1Patch.PatchType.JsonPatch, """[{"op":"replace","path":"/data/key","value":"patched"}]""")]
    [InlineData(V1Patch.PatchType.StrategicMergePatch, """{"data":{"key":"patched"}}""")]
    public async Task PatchTypesTheFakeCannotApplyAreRefusedAsUnsupportedMediaTypes(V1Patch.PatchType type, string body)
    {
        await client.CoreV1.CreateNamespacedConfigMapAsync(TestKit.ConfigMap("untouched"), TestKit.Ns);

        var status = await TestKit.RefusalAsync(() => client.CoreV1.PatchNamespacedConfigMapAsync(new V1Patch(body, type), "untouched", TestKit.Ns));

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, status);
        Assert.Equal("value", (await client.CoreV1.ReadNamespacedConfigMapAsync("untouched", TestKit.Ns)).Data["key"]);
    }

    [Fact]
    public async Task CustomResourcesRoundTripWithTheirStatusSubresource()
    {
        var created = await client.CreateSaleAsync(TestKit.Sale("spring", stock: 40));
        Assert.Equal("test.flashsale.dev/v1alpha1", created.ApiVersion);
        Assert.Equal(40, created.Spec!.Stock);

        var status = await client.PatchSaleStatusAsync("spring", TestKit.Merge("""{"status":{"phase":"Scheduled","observedGeneration":1}}"""));
        Assert.Equal("Scheduled", status.Status!.Phase);

        var listed = Assert.Single((await client.CustomObjects.ListCustomObjectForAllNamespacesAsync<KubernetesList<TestSale>>(TestSale.Group, TestSale.Version, TestSale.Plural)).Items);
        Assert.Equal("Scheduled", listed.Status!.Phase);
        Assert.Equal(1, listed.Metadata.Generation);
    }

    [Fact]
    public async Task ACustomResourceDefinitionExistsOnceItsKindIsServed()
    {
        const string name = "servicemonitors.monitoring.coreos.com";
        Assert.NotNull(await client.ApiextensionsV1.ReadCustomResourceDefinitionAsync("testsales.test.flashsale.dev").OrNull());
        Assert.Null(await client.ApiextensionsV1.ReadCustomResourceDefinitionAsync(name).OrNull());

        fake.RegisterKind(ApiResource.NamespacedKind("monitoring.coreos.com", "v1", "ServiceMonitor", "servicemonitors"), hasStatusSubresource: false);

        var definition = await client.ApiextensionsV1.ReadCustomResourceDefinitionAsync(name);
        Assert.Equal("ServiceMonitor", definition.Spec.Names.Kind);
        Assert.Contains(definition.Status.Conditions, c => c.Type == "Established" && c.Status == "True");
        Assert.Null(definition.Metadata.NamespaceProperty);
    }

    [Fact]
    public async Task AnObjectGivenOnlyAsJsonIsAppliedToItsKind()
    {
        var monitors = ApiResource.NamespacedKind("monitoring.coreos.com", "v1", "ServiceMonitor", "servicemonitors");
        fake.RegisterKind(monitors, hasStatusSubresource: false);
        var monitor = JsonNode.Parse("""
            {
              "apiVersion": "monitoring.coreos.com/v1",
              "kind": "ServiceMonitor",
              "metadata": { "name": "orders", "namespace": "shop" },
              "spec": { "selector": { "matchLabels": { "app": "orders" } }, "endpoints": [ { "port": "http", "path": "/metrics" } ] }
            }
            """)!.AsObject();

        await client.CustomObjects.PatchNamespacedCustomObjectAsync(TestKit.Apply(monitor), "monitoring.coreos.com", "v1", TestKit.Ns, "servicemonitors", "orders", fieldManager: TestKit.Manager, force: true);

        var stored = fake.GetObject(monitors, TestKit.Ns, "orders")!;
        Assert.Equal("/metrics", stored["spec"]!["endpoints"]![0]!["path"]!.GetValue<string>());
        Assert.Contains(fake.Requests, r => r.Verb == "patch" && r.RbacResource == "servicemonitors" && r.FieldManager == TestKit.Manager);
    }
}
