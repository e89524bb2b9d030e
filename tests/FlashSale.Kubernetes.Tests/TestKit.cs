using System.Text.Json;
using System.Text.Json.Serialization;
using FlashSale.Kubernetes.Fake;
using FlashSale.Kubernetes.Models;

namespace FlashSale.Kubernetes.Tests;

internal static class TestKit
{
    public const string Ns = "shop";

    public static async Task<FakeKubeApiServer> StartFakeAsync(Action<FakeKubeApiServerOptions>? configure = null)
    {
        var options = new FakeKubeApiServerOptions();
        options.TypeInfoResolvers.Add(TestJsonContext.Default);
        configure?.Invoke(options);
        var fake = await FakeKubeApiServer.StartAsync(options);
        fake.RegisterKind<TestSale>();
        return fake;
    }

    public static KubernetesClient Client(FakeKubeApiServer fake, Action<KubernetesClientOptions>? configure = null)
    {
        var options = new KubernetesClientOptions();
        options.TypeInfoResolvers.Add(TestJsonContext.Default);
        configure?.Invoke(options);
        return fake.CreateClient(options);
    }

    public static V1ConfigMap ConfigMap(string name, IDictionary<string, string>? labels = null, IDictionary<string, string>? data = null) => new()
    {
        Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = Ns, Labels = labels },
        Data = data ?? new Dictionary<string, string> { ["key"] = "value" },
    };

    public static V1Deployment Deployment(string name, int replicas = 1, string image = "flashsale/orders:1") => new()
    {
        Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = Ns, Labels = new Dictionary<string, string> { ["app"] = name } },
        Spec = new V1DeploymentSpec
        {
            Replicas = replicas,
            Selector = new V1LabelSelector { MatchLabels = new Dictionary<string, string> { ["app"] = name } },
            Template = new V1PodTemplateSpec
            {
                Metadata = new V1ObjectMeta { Labels = new Dictionary<string, string> { ["app"] = name } },
                Spec = new V1PodSpec { Containers = [new V1Container { Name = "app", Image = image }] },
            },
        },
    };

    public static TestSale Sale(string name, int stock = 100) => new()
    {
        Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = Ns },
        Spec = new TestSaleSpec { Stock = stock },
    };

    /// <summary>Polls until the condition holds; fails the test with <paramref name="what"/> after the timeout.</summary>
    public static async Task WaitUntilAsync(Func<Task<bool>> condition, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(10));
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"Timed out waiting until {what}.");
            }

            await Task.Delay(20);
        }
    }

    public static Task WaitUntilAsync(Func<bool> condition, string what, TimeSpan? timeout = null) =>
        WaitUntilAsync(() => Task.FromResult(condition()), what, timeout);
}

/// <summary>A custom resource like the operator's FlashSale, in its own group.</summary>
public sealed class TestSale : CustomResource<TestSaleSpec, TestSaleStatus>, IKubernetesResource
{
    public static ApiResource ApiResource { get; } = ApiResource.NamespacedKind("test.flashsale.dev", "v1alpha1", "TestSale", "testsales");
}

public sealed class TestSaleSpec
{
    public int Stock { get; set; }

    public bool? Paused { get; set; }
}

public sealed class TestSaleStatus
{
    public string? Phase { get; set; }

    public long? ObservedGeneration { get; set; }

    public IList<V1Condition>? Conditions { get; set; }
}

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(TestSale))]
internal sealed partial class TestJsonContext : JsonSerializerContext;

/// <summary>A fresh fake API server and a client pointed at it for every test.</summary>
public abstract class FakeApiServerTest : IAsyncLifetime
{
    protected FakeKubeApiServer fake = null!;
    protected KubernetesClient client = null!;

    public virtual async Task InitializeAsync()
    {
        fake = await TestKit.StartFakeAsync();
        client = TestKit.Client(fake);
    }

    public virtual async Task DisposeAsync()
    {
        client.Dispose();
        await fake.DisposeAsync();
    }
}
