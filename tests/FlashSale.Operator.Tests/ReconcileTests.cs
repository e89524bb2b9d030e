using FlashSale.Contracts;
using FlashSale.Operator.Controller;
using FlashSale.Operator.Entities;
using FlashSale.Operator.Kubernetes;
using FlashSale.Sales;
using k8s;
using k8s.Models;
using StackExchange.Redis;

namespace FlashSale.Operator.Tests;

public class ReconcileTests
{
    static readonly string[] Services = ["users", "stock", "orders", "notifications"];

    [Fact]
    public async Task ApplyingTheExampleProvisionsEveryChildWithOwnerReferencesProbesSecurityAndResources()
    {
        await using var h = await Harness.StartAsync();
        var fs = await h.CreateAsync(h.Example());

        await h.ReconcileAsync(fs.Name());

        foreach (var service in Services)
        {
            var name = $"{fs.Name()}-{service}";
            var deployment = h.Server.Get<V1Deployment>(h.Namespace, name)!;
            AssertOwnedBy(fs, deployment);
            var pod = deployment.Spec!.Template!.Spec!;
            var container = Assert.Single(pod.Containers!);
            Assert.Equal($"ghcr.io/flashsale/flashsale-{service}:0.1.0", container.Image);
            Assert.Equal("/healthz/live", container.LivenessProbe!.HttpGet!.Path);
            Assert.Equal("/healthz/ready", container.ReadinessProbe!.HttpGet!.Path);
            Assert.Equal("/healthz/live", container.StartupProbe!.HttpGet!.Path);
            Assert.True(pod.SecurityContext!.RunAsNonRoot);
            Assert.Equal("RuntimeDefault", pod.SecurityContext.SeccompProfile!.Type);
            Assert.False(container.SecurityContext!.AllowPrivilegeEscalation);
            Assert.True(container.SecurityContext.ReadOnlyRootFilesystem);
            Assert.Equal(["ALL"], container.SecurityContext.Capabilities!.Drop!);
            Assert.NotNull(container.Resources!.Requests!["cpu"]);
            Assert.NotNull(container.Resources.Limits!["memory"]);
            Assert.Equal("RollingUpdate", deployment.Spec.Strategy!.Type);
            Assert.Contains(container.Env!, e => e.Name == "ConnectionStrings__Postgres" && e.ValueFrom!.SecretKeyRef!.Name == "flashsale-postgres");
            AssertOwnedBy(fs, h.Server.Get<V1Service>(h.Namespace, name)!);
            AssertOwnedBy(fs, h.Server.Get<V1PodDisruptionBudget>(h.Namespace, name)!);
        }

        // The users service consumes the sale's order.expired events (refunds of debited orders that expired).
        var usersEnv = h.Server.Get<V1Deployment>(h.Namespace, $"{fs.Name()}-users")!.Spec!.Template!.Spec!.Containers![0].Env!;
        Assert.Contains(usersEnv, e => e.Name == "ConnectionStrings__RabbitMq" && e.ValueFrom!.SecretKeyRef!.Name == "flashsale-rabbitmq");
        Assert.Contains(usersEnv, e => e.Name == "RabbitMq__Sale" && e.Value == fs.Name());
        // Its replicas count login attempts in Redis, so that the limits hold for all of them together.
        Assert.Contains(usersEnv, e => e.Name == "ConnectionStrings__Redis" && e.ValueFrom!.SecretKeyRef!.Name == "flashsale-redis");

        var orders = h.Server.Get<V1Deployment>(h.Namespace, $"{fs.Name()}-orders")!;
        Assert.Null(orders.Spec!.Replicas);
        var hpa = h.Server.Get<V2HorizontalPodAutoscaler>(h.Namespace, $"{fs.Name()}-orders")!;
        AssertOwnedBy(fs, hpa);
        Assert.Equal(2, hpa.Spec!.MinReplicas);
        Assert.Equal(10, hpa.Spec.MaxReplicas);
        Assert.Null(h.Server.Get<V2HorizontalPodAutoscaler>(h.Namespace, $"{fs.Name()}-stock"));
        Assert.Equal(2, h.Server.Get<V1Deployment>(h.Namespace, $"{fs.Name()}-users")!.Spec!.Replicas);
        AssertOwnedBy(fs, h.Server.Get<V1ConfigMap>(h.Namespace, $"{fs.Name()}-sale")!);
        var ingress = h.Server.Get<V1Ingress>(h.Namespace, fs.Name())!;
        AssertOwnedBy(fs, ingress);
        Assert.Contains(ingress.Spec!.Rules![0].Http!.Paths!, p => p.Path == $"/api/sales/{fs.Name()}/orders" && p.Backend!.Service!.Name == $"{fs.Name()}-orders");

        var stock = await h.Store.GetStockAsync(new SaleKeys(h.Namespace, fs.Name()));
        Assert.Equal([("console-x", 600L), ("headset-pro", 400L)], stock.Select(p => (p.Sku, p.Remaining)));
        Assert.True(await h.TopologyExistsAsync(fs.Name()));

        var status = (await h.GetAsync(fs.Name()))!.Status!;
        Assert.Equal("Provisioning", status.Phase);
        Assert.True(status.Conditions.IsTrue("StockPreloaded"));
        Assert.True(status.Conditions.IsTrue("MessagingReady"));
        Assert.False(status.Conditions.IsTrue("Ready"));
        Assert.Equal(1000, status.Remaining);
    }

    [Fact]
    public async Task OnceTheDeploymentsAreAvailableTheSaleIsReadyAtItsGeneration()
    {
        await using var h = await Harness.StartAsync();
        var fs = await h.CreateAsync(h.Example());
        await h.ReconcileAsync(fs.Name());

        h.MarkDeploymentsAvailable(fs.Name());
        var result = await h.ReconcileAsync(fs.Name());

        var current = (await h.GetAsync(fs.Name()))!;
        Assert.True(current.Status!.Conditions.IsTrue("Ready"), current.Status.Conditions.Find("Ready")?.Message);
        Assert.Equal(current.Metadata.Generation, current.Status.ObservedGeneration);
        Assert.All(current.Status.Conditions!, c => Assert.Equal(current.Metadata.Generation, c.ObservedGeneration));
        Assert.False(current.Status.Conditions.IsTrue("Degraded"));
        Assert.Equal("Scheduled", current.Status.Phase);
        Assert.Contains("flashsale.dev/cleanup", current.Metadata.Finalizers!);
        Assert.NotNull(result.RequeueAfter);
        Assert.InRange(result.RequeueAfter!.Value, TimeSpan.FromMinutes(49), TimeSpan.FromMinutes(51));
    }

    [Fact]
    public async Task ChangingTheSaleUpdatesTheChildrenAndAddsTheStockDifference()
    {
        await using var h = await Harness.StartAsync();
        var fs = await h.CreateAsync(h.Example());
        await h.ReconcileAsync(fs.Name());

        h.Server.Modify<V1Alpha1FlashSale>(h.Namespace, fs.Name(), sale =>
        {
            sale.Spec!.Image.Tag = "0.2.0";
            sale.Spec.Services!.Orders!.Autoscaling!.MaxReplicas = 20;
            sale.Spec.Products[0].Stock = 650;
        });
        await h.ReconcileAsync(fs.Name());

        Assert.Equal("ghcr.io/flashsale/flashsale-stock:0.2.0", h.Server.Get<V1Deployment>(h.Namespace, $"{fs.Name()}-stock")!.Spec!.Template!.Spec!.Containers![0].Image);
        Assert.Equal(20, h.Server.Get<V2HorizontalPodAutoscaler>(h.Namespace, $"{fs.Name()}-orders")!.Spec!.MaxReplicas);
        var console = (await h.Store.GetStockAsync(new SaleKeys(h.Namespace, fs.Name()))).Single(p => p.Sku == "console-x");
        Assert.Equal(650, console.Initial);
        Assert.Equal(650, console.Remaining);
        Assert.Equal(650, (await h.GetAsync(fs.Name()))!.Status!.Products!.Single(p => p.Sku == "console-x").Stock);
    }

    /// <summary>A preloaded sale, open for five minutes, in which a buyer holds 2 of the 400 headset-pro.</summary>
    static async Task<(V1Alpha1FlashSale Sale, SaleKeys Keys)> OpenSaleWithTwoHeadsetsSoldAsync(Harness h)
    {
        var fs = await h.CreateAsync(h.Example(startsIn: TimeSpan.FromMinutes(-5)));
        await h.ReconcileAsync(fs.Name());
        var keys = new SaleKeys(h.Namespace, fs.Name());
        var sold = await h.Store.ReserveAsync(keys, Guid.NewGuid(), "headset-pro", 2, Guid.NewGuid(), "k1", TimeSpan.FromMinutes(5));
        Assert.Equal(ReserveOutcome.Accepted, sold.Outcome);
        return (fs, keys);
    }

    [Fact]
    public async Task LoweringTheStockBelowWhatWasSoldIsRefusedWithADegradedCondition()
    {
        await using var h = await Harness.StartAsync();
        var (fs, keys) = await OpenSaleWithTwoHeadsetsSoldAsync(h);

        h.Server.Modify<V1Alpha1FlashSale>(h.Namespace, fs.Name(), sale => sale.Spec!.Products[1].Stock = 1);
        await h.ReconcileAsync(fs.Name());

        var status = (await h.GetAsync(fs.Name()))!.Status!;
        var degraded = status.Conditions.Find("Degraded")!;
        Assert.Equal("True", degraded.Status);
        Assert.Equal("StockBelowSold", degraded.Reason);
        Assert.Contains("headset-pro", degraded.Message);
        Assert.False(status.Conditions.IsTrue("Ready"));
        var headset = (await h.Store.GetStockAsync(keys)).Single(p => p.Sku == "headset-pro");
        Assert.Equal(400, headset.Initial);
        Assert.Equal(398, headset.Remaining);
        Assert.Equal(2, status.Products!.Single(p => p.Sku == "headset-pro").Sold);
    }

    [Fact]
    public async Task ASaleThatRedisLostIsNotPreloadedAgainButDegraded()
    {
        await using var h = await Harness.StartAsync();
        var (fs, keys) = await OpenSaleWithTwoHeadsetsSoldAsync(h);
        await h.ReconcileAsync(fs.Name());
        Assert.NotNull((await h.GetAsync(fs.Name()))!.Status!.StockPreloadedAt);

        // Redis comes back without the sale (no persistence, a lost volume): a preload would put the 2 sold units back.
        var db = h.Store.Redis.GetDatabase();
        var backup = new List<(RedisKey Key, byte[] Dump)>();
        foreach (var key in keys.All)
            if (await db.KeyDumpAsync(key) is { } dump) backup.Add((key, dump));
        await h.Store.DeleteAsync(keys);
        await h.ReconcileAsync(fs.Name());
        await h.ReconcileAsync(fs.Name());

        Assert.Null(await h.Store.GetSaleAsync(keys));
        Assert.Empty(await h.Store.GetStockAsync(keys));
        var order = await h.Store.ReserveAsync(keys, Guid.NewGuid(), "headset-pro", 1, Guid.NewGuid(), "k2", TimeSpan.FromMinutes(5));
        Assert.Equal(Reasons.UnknownSale, order.Reason);
        var status = (await h.GetAsync(fs.Name()))!.Status!;
        var preloaded = status.Conditions.Find("StockPreloaded")!;
        Assert.Equal(("False", "SaleLostFromRedis"), (preloaded.Status, preloaded.Reason));
        Assert.Equal("SaleLostFromRedis", status.Conditions.Find("Degraded")!.Reason);
        Assert.False(status.Conditions.IsTrue("Ready"));
        Assert.Equal(2, status.Products!.Single(p => p.Sku == "headset-pro").Sold); // the last figures read, kept for a rebuild
        Assert.Single(h.Server.List<Eventsv1Event>(h.Namespace), e => e.Reason == "SaleLostFromRedis" && e.Type == "Warning");

        // Redis's data restored (its sale keys as they were, from a backup): the next reconcile takes the sale up where it was.
        foreach (var (key, dump) in backup) await db.KeyRestoreAsync(key, dump);
        await h.ReconcileAsync(fs.Name());
        status = (await h.GetAsync(fs.Name()))!.Status!;
        Assert.True(status.Conditions.IsTrue("StockPreloaded"));
        Assert.False(status.Conditions.IsTrue("Degraded"));
        Assert.Equal(2, status.Products!.Single(p => p.Sku == "headset-pro").Sold);
        Assert.Equal(ReserveOutcome.Accepted, (await h.Store.ReserveAsync(keys, Guid.NewGuid(), "headset-pro", 1, Guid.NewGuid(), "k3", TimeSpan.FromMinutes(5))).Outcome);

        // A sale never preloaded is preloaded as before.
        var fresh = await h.CreateAsync(h.Example("fresh-sale"));
        await h.ReconcileAsync(fresh.Name());
        Assert.NotEmpty(await h.Store.GetStockAsync(new SaleKeys(h.Namespace, fresh.Name())));
    }

    [Fact]
    public async Task ADeletedChildIsRecreatedAndAChildEditedByHandIsPutBack()
    {
        await using var h = await Harness.StartAsync();
        var fs = await h.CreateAsync(h.Example());
        await h.ReconcileAsync(fs.Name());

        await h.Client.CoreV1.DeleteNamespacedServiceAsync($"{fs.Name()}-users", h.Namespace);
        h.Server.Modify<V1Deployment>(h.Namespace, $"{fs.Name()}-orders", d => d.Spec!.Template!.Spec!.Containers![0].Image = "evil/image:latest");
        await h.ReconcileAsync(fs.Name());

        AssertOwnedBy(fs, h.Server.Get<V1Service>(h.Namespace, $"{fs.Name()}-users")!);
        Assert.Equal("ghcr.io/flashsale/flashsale-orders:0.1.0", h.Server.Get<V1Deployment>(h.Namespace, $"{fs.Name()}-orders")!.Spec!.Template!.Spec!.Containers![0].Image);
    }

    [Fact]
    public async Task VerificationKeysGoToTheUsersServiceOnlyAndAnIncompleteOneIsRefusedByName()
    {
        await using var h = await Harness.StartAsync();
        var rotated = h.Example();
        rotated.Spec!.Auth.VerificationKeySecretRefs = [new SecretKeyRef { Name = "flashsale-signing-key-2026-10", Key = "key.pem" }];
        var fs = await h.CreateAsync(rotated);
        await h.ReconcileAsync(fs.Name());

        var users = Assert.Single(h.Server.Get<V1Deployment>(h.Namespace, $"{fs.Name()}-users")!.Spec!.Template!.Spec!.Containers!);
        var retired = Assert.Single(users.Env!, e => e.Name == "Auth__VerificationKeyPems__0");
        Assert.Equal(("flashsale-signing-key-2026-10", "key.pem"), (retired.ValueFrom!.SecretKeyRef!.Name, retired.ValueFrom.SecretKeyRef.Key));
        var orders = Assert.Single(h.Server.Get<V1Deployment>(h.Namespace, $"{fs.Name()}-orders")!.Spec!.Template!.Spec!.Containers!);
        Assert.DoesNotContain(orders.Env!, e => e.Name?.StartsWith("Auth__VerificationKeyPems", StringComparison.Ordinal) == true);

        var incomplete = h.Example("incomplete-key");
        incomplete.Spec!.Auth.VerificationKeySecretRefs = [new SecretKeyRef { Name = "old", Key = "" }];
        var bad = await h.CreateAsync(incomplete);
        await h.ReconcileAsync(bad.Name());
        var degraded = (await h.GetAsync(bad.Name()))!.Status!.Conditions.Find("Degraded")!;
        Assert.Equal("InvalidSpec", degraded.Reason);
        Assert.Contains("spec.auth.verificationKeySecretRefs[0].key is required", degraded.Message);
    }

    [Fact]
    public async Task AnInvalidSaleIsDegradedNamingTheFieldAndNothingIsProvisioned()
    {
        await using var h = await Harness.StartAsync();
        var invalid = h.Example();
        invalid.Spec!.Products[1].PerUserLimit = 0;
        var fs = await h.CreateAsync(invalid);

        await h.ReconcileAsync(fs.Name());

        var status = (await h.GetAsync(fs.Name()))!.Status!;
        Assert.Equal("Failed", status.Phase);
        var degraded = status.Conditions.Find("Degraded")!;
        Assert.Equal("True", degraded.Status);
        Assert.Equal("InvalidSpec", degraded.Reason);
        Assert.Contains("spec.products[1].perUserLimit", degraded.Message);
        Assert.Empty(h.Server.List<V1Deployment>(h.Namespace));
        Assert.Empty(h.Server.List<V1ConfigMap>(h.Namespace));
        Assert.Empty(await h.Store.GetStockAsync(new SaleKeys(h.Namespace, fs.Name())));
        Assert.False(await h.AnyTopologyLeftAsync(fs.Name()));
    }

    [Fact]
    public async Task AnEndBeforeTheStartIsDegradedNamingTheSchedule()
    {
        await using var h = await Harness.StartAsync();
        var invalid = h.Example();
        invalid.Spec!.Schedule.EndsAt = invalid.Spec.Schedule.StartsAt.AddMinutes(-1);
        var fs = await h.CreateAsync(invalid);

        await h.ReconcileAsync(fs.Name());

        Assert.Contains("spec.schedule.endsAt", (await h.GetAsync(fs.Name()))!.Status!.Conditions.Find("Degraded")!.Message);
        Assert.Empty(h.Server.List<V1Deployment>(h.Namespace));
    }

    [Fact]
    public async Task DeletingASaleWithCleanupPolicyDeleteRemovesItsRedisKeysAndQueuesBeforeTheSale()
    {
        await using var h = await Harness.StartAsync();
        var example = h.Example();
        example.Spec!.CleanupPolicy = "Delete";
        var fs = await h.CreateAsync(example);
        await h.ReconcileAsync(fs.Name());

        var deleting = await h.DeleteAsync(fs.Name());
        Assert.NotNull(deleting);
        Assert.NotNull((await h.GetAsync(fs.Name()))!.Metadata.DeletionTimestamp);
        Assert.NotEmpty(await h.Store.GetStockAsync(new SaleKeys(h.Namespace, fs.Name())));
        await h.ReconcileAsync(fs.Name());

        Assert.Null(await h.GetAsync(fs.Name()));
        Assert.Empty(await h.Store.GetStockAsync(new SaleKeys(h.Namespace, fs.Name())));
        Assert.False(await h.Redis.GetDatabase().KeyExistsAsync(new SaleKeys(h.Namespace, fs.Name()).Meta));
        Assert.False(await h.AnyTopologyLeftAsync(fs.Name()));
    }

    [Fact]
    public async Task DeletingASaleWithCleanupPolicyRetainKeepsItsRedisKeysAndQueues()
    {
        await using var h = await Harness.StartAsync();
        var fs = await h.CreateAsync(h.Example());
        await h.ReconcileAsync(fs.Name());

        await h.DeleteAsync(fs.Name());
        await h.ReconcileAsync(fs.Name());

        Assert.Null(await h.GetAsync(fs.Name()));
        Assert.Equal(2, (await h.Store.GetStockAsync(new SaleKeys(h.Namespace, fs.Name()))).Count);
        Assert.True(await h.TopologyExistsAsync(fs.Name()));
    }

    [Fact]
    public async Task APausedSaleIsLeftAloneWithAConditionSayingSo()
    {
        await using var h = await Harness.StartAsync();
        var example = h.Example();
        example.Metadata.Annotations = new Dictionary<string, string> { ["flashsale.dev/paused"] = "true" };
        var fs = await h.CreateAsync(example);

        await h.ReconcileAsync(fs.Name());

        var paused = (await h.GetAsync(fs.Name()))!.Status!.Conditions.Find("Paused")!;
        Assert.Equal("True", paused.Status);
        Assert.Contains("flashsale.dev/paused", paused.Message);
        Assert.Empty(h.Server.List<V1Deployment>(h.Namespace));
        Assert.Empty(await h.Store.GetStockAsync(new SaleKeys(h.Namespace, fs.Name())));

        h.Server.Modify<V1Alpha1FlashSale>(h.Namespace, fs.Name(), sale => sale.Metadata.Annotations!.Remove("flashsale.dev/paused"));
        await h.ReconcileAsync(fs.Name());

        Assert.Null((await h.GetAsync(fs.Name()))!.Status!.Conditions.Find("Paused"));
        Assert.Equal(4, h.Server.List<V1Deployment>(h.Namespace).Count);
    }

    [Fact]
    public async Task MinReplicasIsRaisedPrescaleMinutesBeforeTheStartAndRestoredAfterTheEnd()
    {
        await using var h = await Harness.StartAsync();
        var fs = await h.CreateAsync(h.Example(startsIn: TimeSpan.FromHours(1), length: TimeSpan.FromHours(1)));
        var starts = fs.Spec!.Schedule.StartsAt;
        var hpa = () => h.Server.Get<V2HorizontalPodAutoscaler>(h.Namespace, $"{fs.Name()}-orders")!.Spec!.MinReplicas;

        h.Clock.Set(starts.AddMinutes(-11));
        await h.ReconcileAsync(fs.Name());
        h.MarkDeploymentsAvailable(fs.Name());
        var before = await h.ReconcileAsync(fs.Name());
        Assert.Equal(2, hpa());
        Assert.InRange(before.RequeueAfter!.Value, TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(1.01));

        h.Clock.Set(starts.AddMinutes(-10));
        await h.ReconcileAsync(fs.Name());
        Assert.Equal(10, hpa());

        h.Clock.Set(starts.AddMinutes(30));
        await h.ReconcileAsync(fs.Name());
        Assert.Equal(10, hpa());

        h.Clock.Set(starts.AddMinutes(61));
        await h.ReconcileAsync(fs.Name());
        Assert.Equal(2, hpa());
        Assert.Equal("Ended", (await h.GetAsync(fs.Name()))!.Status!.Phase);
    }

    [Fact]
    public async Task ReconcilingTwiceChangesNothingTheSecondTime()
    {
        await using var h = await Harness.StartAsync();
        var fs = await h.CreateAsync(h.Example());
        await h.ReconcileAsync(fs.Name());
        h.MarkDeploymentsAvailable(fs.Name());
        await h.ReconcileAsync(fs.Name());
        var version = h.Server.ResourceVersion;

        await h.ReconcileAsync(fs.Name());

        Assert.Equal(version, h.Server.ResourceVersion);
    }

    [Fact]
    public async Task ASaleWhoseStockIsGoneIsSoldOut()
    {
        await using var h = await Harness.StartAsync();
        var example = h.Example(startsIn: TimeSpan.FromMinutes(-1));
        example.Spec!.Products = [example.Spec.Products[0]];
        example.Spec.Products[0].Stock = 1;
        var fs = await h.CreateAsync(example);
        await h.ReconcileAsync(fs.Name());
        h.MarkDeploymentsAvailable(fs.Name());
        await h.ReconcileAsync(fs.Name());
        Assert.Equal("Live", (await h.GetAsync(fs.Name()))!.Status!.Phase);

        var order = await h.Store.ReserveAsync(new SaleKeys(h.Namespace, fs.Name()), Guid.NewGuid(), "console-x", 1, Guid.NewGuid(), "k", TimeSpan.FromMinutes(5));
        Assert.Equal(ReserveOutcome.Accepted, order.Outcome);
        await h.ReconcileAsync(fs.Name());

        var status = (await h.GetAsync(fs.Name()))!.Status!;
        Assert.Equal("SoldOut", status.Phase);
        Assert.Equal(1, status.Sold);
        Assert.Equal(0, status.Remaining);
    }

    [Fact]
    public async Task AServiceMonitorIsAppliedOnlyWhenItsCrdExists()
    {
        await using var h = await Harness.StartAsync();
        var without = await h.CreateAsync(h.Example());
        await h.ReconcileAsync(without.Name());
        Assert.DoesNotContain(h.Server.Requests, r => r.Resource == "servicemonitors");

        h.Server.RegisterKind(Harness.ServiceMonitors);
        var with = await h.CreateAsync(h.Example());
        await h.ReconcileAsync(with.Name());

        var monitor = Assert.Single(h.Server.ListObjects(Harness.ServiceMonitors, h.Namespace));
        Assert.Equal(with.Name(), monitor["metadata"]!["name"]!.GetValue<string>());
        Assert.Equal(with.Uid(), monitor["metadata"]!["ownerReferences"]![0]!["uid"]!.GetValue<string>());
        Assert.Equal("/metrics", monitor["spec"]!["endpoints"]![0]!["path"]!.GetValue<string>());
        Assert.Equal(["flashsale.dev/sale", "app.kubernetes.io/component"],
            monitor["spec"]!["targetLabels"]!.AsArray().Select(l => l!.GetValue<string>()));
    }

    static void AssertOwnedBy(V1Alpha1FlashSale owner, IKubernetesObject<V1ObjectMeta> child)
    {
        var reference = Assert.Single(child.Metadata.OwnerReferences!);
        Assert.Equal(owner.Uid(), reference.Uid);
        Assert.Equal("FlashSale", reference.Kind);
        Assert.Equal("flashsale.dev/v1alpha1", reference.ApiVersion);
        Assert.True(reference.Controller);
    }
}
