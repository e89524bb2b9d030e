using System.Net;
using FlashSale.Kubernetes.Fake;
using k8s;
using k8s.Autorest;
using k8s.Models;

namespace FlashSale.Kubernetes.Tests;

static class TestKit
{
    public const string Ns = "shop";
    public const string Manager = "flashsale-operator";

    public static async Task<FakeKubeApiServer> StartFakeAsync(FakeKubeApiServerOptions? options = null)
    {
        var fake = await FakeKubeApiServer.StartAsync(options);
        fake.RegisterKind<TestSale>();
        return fake;
    }

    public static V1ConfigMap ConfigMap(string name, IDictionary<string, string>? labels = null, IDictionary<string, string>? data = null) => new()
    {
        ApiVersion = "v1",
        Kind = "ConfigMap",
        Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = Ns, Labels = labels },
        Data = data ?? new Dictionary<string, string> { ["key"] = "value" },
    };

    public static V1Deployment Deployment(string name, int replicas = 1, string image = "flashsale/orders:1") => new()
    {
        ApiVersion = "apps/v1",
        Kind = "Deployment",
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

    public static V1Patch Apply(object body) => new(body, V1Patch.PatchType.ApplyPatch);

    public static V1Patch Merge(string json) => new(json, V1Patch.PatchType.MergePatch);

    public static V1OwnerReference OwnerReference(TestSale owner, bool controller = true) => new()
    {
        ApiVersion = owner.ApiVersion,
        Kind = owner.Kind,
        Name = owner.Name(),
        Uid = owner.Uid(),
        Controller = controller,
        BlockOwnerDeletion = true,
    };

    // The official client's CustomObjects API serves any kind; these name the test kind once.
    public static Task<TestSale> CreateSaleAsync(this IKubernetes client, TestSale sale) =>
        client.CustomObjects.CreateNamespacedCustomObjectAsync<TestSale>(sale, TestSale.Group, TestSale.Version, Ns, TestSale.Plural);

    public static Task<TestSale> GetSaleAsync(this IKubernetes client, string name) =>
        client.CustomObjects.GetNamespacedCustomObjectAsync<TestSale>(TestSale.Group, TestSale.Version, Ns, TestSale.Plural, name);

    public static Task<TestSale> PatchSaleAsync(this IKubernetes client, string name, V1Patch patch, string? fieldManager = null) =>
        client.CustomObjects.PatchNamespacedCustomObjectAsync<TestSale>(patch, TestSale.Group, TestSale.Version, Ns, TestSale.Plural, name, fieldManager: fieldManager);

    public static Task<TestSale> PatchSaleStatusAsync(this IKubernetes client, string name, V1Patch patch, string? fieldManager = null, bool? force = null) =>
        client.CustomObjects.PatchNamespacedCustomObjectStatusAsync<TestSale>(patch, TestSale.Group, TestSale.Version, Ns, TestSale.Plural, name, fieldManager: fieldManager, force: force);

    /// <summary>The sale while its finalizers run; null once it is gone (the server then answers with a Status).</summary>
    public static async Task<TestSale?> DeleteSaleAsync(this IKubernetes client, string name, string? propagationPolicy = null)
    {
        var answer = await client.CustomObjects.DeleteNamespacedCustomObjectAsync<System.Text.Json.JsonElement>(
            TestSale.Group, TestSale.Version, Ns, TestSale.Plural, name, propagationPolicy: propagationPolicy);
        return answer.GetProperty("kind").GetString() == "Status" ? null : KubernetesJson.Deserialize<TestSale>(answer);
    }

    /// <summary>The object, or null when the server answers 404.</summary>
    public static async Task<T?> OrNull<T>(this Task<T> request)
        where T : class
    {
        try
        {
            return await request;
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    /// <summary>The status code the server refused a request with.</summary>
    public static async Task<HttpStatusCode> RefusalAsync(Func<Task> request)
    {
        var error = await Assert.ThrowsAsync<HttpOperationException>(request);
        return error.Response.StatusCode;
    }

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
[KubernetesEntity(Group = Group, ApiVersion = Version, Kind = "TestSale", PluralName = Plural)]
public sealed class TestSale : IKubernetesObject<V1ObjectMeta>, ISpec<TestSaleSpec?>, IStatus<TestSaleStatus?>
{
    public const string Group = "test.flashsale.dev";
    public const string Version = "v1alpha1";
    public const string Plural = "testsales";

    public string ApiVersion { get; set; } = $"{Group}/{Version}";

    public string Kind { get; set; } = "TestSale";

    public V1ObjectMeta Metadata { get; set; } = new();

    public TestSaleSpec? Spec { get; set; }

    public TestSaleStatus? Status { get; set; }
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

/// <summary>A fresh fake API server and an official client pointed at it for every test.</summary>
public abstract class FakeApiServerTest : IAsyncLifetime
{
    protected FakeKubeApiServer fake = null!;
    protected IKubernetes client = null!;

    public virtual async Task InitializeAsync()
    {
        fake = await TestKit.StartFakeAsync();
        client = fake.CreateClient();
    }

    public virtual async Task DisposeAsync()
    {
        client.Dispose();
        await fake.DisposeAsync();
    }
}
