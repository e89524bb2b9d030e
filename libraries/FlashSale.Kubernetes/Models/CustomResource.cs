using System.Text.Json;
using System.Text.Json.Serialization;

namespace FlashSale.Kubernetes.Models;

/// <summary>
/// Base for a custom resource kind. The concrete class names its place in the API:
/// <code>
/// public sealed class V1Alpha1FlashSale : CustomResource&lt;FlashSaleSpec, FlashSaleStatus&gt;, IKubernetesResource
/// {
///     public static ApiResource ApiResource { get; } = ApiResource.NamespacedKind("flashsale.dev", "v1alpha1", "FlashSale", "flashsales");
/// }
/// </code>
/// and its JSON metadata comes from the operator's own source-generated context, passed to the client in <see cref="KubernetesClientOptions.TypeInfoResolvers"/>.
/// </summary>
public abstract class CustomResource<TSpec, TStatus> : IKubernetesObject
    where TSpec : class
    where TStatus : class
{
    public string? ApiVersion { get; set; }

    public string? Kind { get; set; }

    public V1ObjectMeta Metadata { get; set; } = new();

    public TSpec? Spec { get; set; }

    public TStatus? Status { get; set; }

    [JsonExtensionData]
    public Dictionary<string, JsonElement>? ExtensionData { get; set; }
}

/// <summary>A page of a list: items and the list's metadata (resourceVersion to watch from, continue token).</summary>
public sealed class KubernetesList<T>
{
    public KubernetesList(IReadOnlyList<T> items, V1ListMeta metadata)
    {
        Items = items;
        Metadata = metadata;
    }

    public IReadOnlyList<T> Items { get; }

    public V1ListMeta Metadata { get; }

    public string? ResourceVersion => Metadata.ResourceVersion;

    /// <summary>Pass to the next ListAsync call; null when this is the last page.</summary>
    public string? Continue => string.IsNullOrEmpty(Metadata.ContinueProperty) ? null : Metadata.ContinueProperty;
}
