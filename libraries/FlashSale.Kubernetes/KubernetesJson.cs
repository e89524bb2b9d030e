using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using FlashSale.Kubernetes.Models;

namespace FlashSale.Kubernetes;

/// <summary>
/// Source-generated metadata for the built-in kinds. A custom resource's context must use the same settings:
/// <c>[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]</c>
/// (nulls must not be sent: in an apply they would claim the field).
/// </summary>
[JsonSourceGenerationOptions(
    JsonSerializerDefaults.Web,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    Converters = [typeof(KubernetesTimeConverter)])]
[JsonSerializable(typeof(V1ConfigMap))]
[JsonSerializable(typeof(V1Secret))]
[JsonSerializable(typeof(V1Service))]
[JsonSerializable(typeof(V1Deployment))]
[JsonSerializable(typeof(V2HorizontalPodAutoscaler))]
[JsonSerializable(typeof(V1PodDisruptionBudget))]
[JsonSerializable(typeof(V1Ingress))]
[JsonSerializable(typeof(V1Lease))]
[JsonSerializable(typeof(Eventsv1Event))]
[JsonSerializable(typeof(V1CustomResourceDefinition))]
[JsonSerializable(typeof(V1Status))]
[JsonSerializable(typeof(V1ListMeta))]
[JsonSerializable(typeof(V1ObjectMeta))]
[JsonSerializable(typeof(V1Condition))]
[JsonSerializable(typeof(V1APIResourceList))]
[JsonSerializable(typeof(V1DeleteOptions))]
[JsonSerializable(typeof(JsonObject))]
[JsonSerializable(typeof(JsonNode))]
public sealed partial class KubernetesJsonContext : JsonSerializerContext;

public static class KubernetesJson
{
    /// <summary>Options for the built-in kinds only.</summary>
    public static JsonSerializerOptions Default { get; } = CreateOptions();

    /// <summary>Options that know the built-in kinds plus the kinds of the given (source-generated) resolvers, which take precedence.</summary>
    public static JsonSerializerOptions CreateOptions(params IEnumerable<IJsonTypeInfoResolver> resolvers)
    {
        var options = new JsonSerializerOptions(KubernetesJsonContext.Default.Options);
        options.TypeInfoResolverChain.Clear();
        foreach (var resolver in resolvers)
        {
            options.TypeInfoResolverChain.Add(resolver);
        }

        options.TypeInfoResolverChain.Add(KubernetesJsonContext.Default);
        options.MakeReadOnly();
        return options;
    }

    public static JsonTypeInfo<T> TypeInfo<T>(this JsonSerializerOptions options) =>
        options.GetTypeInfo(typeof(T)) as JsonTypeInfo<T>
        ?? throw new InvalidOperationException($"No JSON metadata for {typeof(T).Name}: add it to a JsonSerializerContext passed in KubernetesClientOptions.TypeInfoResolvers.");
}

/// <summary>The body of a DELETE.</summary>
public sealed class V1DeleteOptions
{
    public string? ApiVersion { get; set; } = "v1";

    public string? Kind { get; set; } = "DeleteOptions";

    public string? PropagationPolicy { get; set; }

    public long? GracePeriodSeconds { get; set; }

    public V1Preconditions? Preconditions { get; set; }
}

public sealed class V1Preconditions
{
    public string? ResourceVersion { get; set; }

    public string? Uid { get; set; }
}

/// <summary>Discovery: the resources one group/version serves.</summary>
public sealed class V1APIResourceList
{
    public string? GroupVersion { get; set; }

    public IList<V1APIResource>? Resources { get; set; }
}

public sealed class V1APIResource
{
    public string? Name { get; set; }

    public string? SingularName { get; set; }

    public bool Namespaced { get; set; }

    public string? Kind { get; set; }

    public IList<string>? Verbs { get; set; }

    public IList<string>? ShortNames { get; set; }
}

/// <summary>How a delete treats the object's dependents (objects whose ownerReferences name it).</summary>
public enum PropagationPolicy
{
    /// <summary>Delete the owner now; the garbage collector deletes dependents afterwards.</summary>
    Background,

    /// <summary>Keep the owner (deletionTimestamp set) until dependents that block owner deletion are gone.</summary>
    Foreground,

    /// <summary>Delete the owner and leave dependents, with the owner reference removed.</summary>
    Orphan,
}
