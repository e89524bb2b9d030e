using k8s;
using k8s.Models;

namespace FlashSale.Kubernetes.Tests;

/// <summary>The fake's watch as the official client reads it. Resuming and relisting are the operator's (ResourceWatcher).</summary>
public sealed class WatchTests : FakeApiServerTest
{
    static readonly TimeSpan Patience = TimeSpan.FromSeconds(15);

    [Fact]
    public async Task EventsArriveInCommitOrder()
    {
        var listed = await client.CoreV1.ListNamespacedConfigMapAsync(TestKit.Ns);
        using var timeout = new CancellationTokenSource(Patience);
        var received = new List<(WatchEventType Type, V1ConfigMap Object)>();
        var watching = Task.Run(async () =>
        {
            await foreach (var e in client.CoreV1.WatchListNamespacedConfigMapAsync(TestKit.Ns, resourceVersion: listed.ResourceVersion(), cancellationToken: timeout.Token))
            {
                received.Add(e);
                if (received.Count == 12)
                {
                    return;
                }
            }
        });
        await TestKit.WaitUntilAsync(() => fake.OpenWatchCount == 1, "the watch is open");

        for (var i = 0; i < 10; i++)
        {
            await client.CoreV1.CreateNamespacedConfigMapAsync(TestKit.ConfigMap($"cm-{i}"), TestKit.Ns);
        }

        await client.CoreV1.PatchNamespacedConfigMapAsync(TestKit.Merge("""{"data":{"key":"changed"}}"""), "cm-3", TestKit.Ns);
        await client.CoreV1.DeleteNamespacedConfigMapAsync("cm-7", TestKit.Ns);
        await watching;

        Assert.Equal(Enumerable.Range(0, 10).Select(i => $"Added cm-{i}").Append("Modified cm-3").Append("Deleted cm-7"), received.Select(e => $"{e.Type} {e.Object.Metadata.Name}"));
        var versions = received.Select(e => long.Parse(e.Object.Metadata.ResourceVersion)).ToList();
        Assert.Equal(versions.Order(), versions);
        Assert.Equal(versions.Count, versions.Distinct().Count());
        Assert.Equal("changed", received[10].Object.Data["key"]);
    }

    [Fact]
    public async Task ATooOldVersionIsReportedAsGoneAndARelistRecoversEveryObject()
    {
        var start = await client.CoreV1.ListNamespacedConfigMapAsync(TestKit.Ns);
        for (var i = 0; i < 4; i++)
        {
            await client.CoreV1.CreateNamespacedConfigMapAsync(TestKit.ConfigMap($"kept-{i}"), TestKit.Ns);
        }

        fake.Compact();

        var errors = new List<Exception>();
        await foreach (var e in client.CoreV1.WatchListNamespacedConfigMapAsync(TestKit.Ns, resourceVersion: start.ResourceVersion(), onError: errors.Add))
        {
            Assert.Fail($"No event may arrive from an expired version, got {e.Item1}.");
        }

        var gone = Assert.IsType<KubernetesException>(Assert.Single(errors));
        Assert.Equal(410, gone.Status.Code);
        Assert.Equal("Expired", gone.Status.Reason);
        var relisted = await client.CoreV1.ListNamespacedConfigMapAsync(TestKit.Ns);
        Assert.Equal(Enumerable.Range(0, 4).Select(i => $"kept-{i}"), relisted.Items.Select(i => i.Metadata.Name));
    }

    [Fact]
    public async Task ALabelSelectedWatchSeesObjectsLeavingTheSelectionAsDeleted()
    {
        await client.CoreV1.CreateNamespacedConfigMapAsync(TestKit.ConfigMap("moving", new Dictionary<string, string> { ["sale"] = "spring" }), TestKit.Ns);
        using var timeout = new CancellationTokenSource(Patience);
        var received = new List<string>();
        var watching = Task.Run(async () =>
        {
            await foreach (var (type, obj) in client.CoreV1.WatchListNamespacedConfigMapAsync(TestKit.Ns, labelSelector: "sale=spring", cancellationToken: timeout.Token))
            {
                received.Add($"{type} {obj.Metadata.Name}");
                if (received.Count == 3)
                {
                    return;
                }
            }
        });
        await TestKit.WaitUntilAsync(() => fake.OpenWatchCount == 1, "the watch is open");

        await client.CoreV1.CreateNamespacedConfigMapAsync(TestKit.ConfigMap("other", new Dictionary<string, string> { ["sale"] = "summer" }), TestKit.Ns);
        await client.CoreV1.PatchNamespacedConfigMapAsync(TestKit.Merge("""{"metadata":{"labels":{"sale":"summer"}}}"""), "moving", TestKit.Ns);
        await client.CoreV1.PatchNamespacedConfigMapAsync(TestKit.Merge("""{"metadata":{"labels":{"sale":"spring"}}}"""), "other", TestKit.Ns);
        await watching;

        Assert.Equal(["Added moving", "Deleted moving", "Added other"], received);
    }
}
