using FlashSale.Kubernetes.Fake;
using FlashSale.TestSupport;
using k8s;
using k8s.Models;

namespace FlashSale.Operator.Tests;

/// <summary>A fresh fake API server and an official client for every test of the operator's Kubernetes pieces (no Redis or RabbitMQ).</summary>
public abstract class FakeClusterTest : IAsyncLifetime
{
    protected const string Ns = "shop";
    protected FakeKubeApiServer fake = null!;
    protected IKubernetes client = null!;

    public virtual async Task InitializeAsync()
    {
        fake = await FakeKubeApiServer.StartAsync();
        client = fake.CreateClient();
    }

    public virtual async Task DisposeAsync()
    {
        client.Dispose();
        await fake.DisposeAsync();
    }

    protected static V1ConfigMap ConfigMap(string name, string value = "value") => new()
    {
        Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = Ns },
        Data = new Dictionary<string, string> { ["key"] = value },
    };

    protected Task<V1ConfigMap> CreateAsync(string name) => client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap(name), Ns);

    protected static Task WaitUntilAsync(Func<bool> condition, string what, TimeSpan? timeout = null) =>
        Eventually.UntilAsync(() => Task.FromResult(condition()), what, timeout ?? TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(20));
}
