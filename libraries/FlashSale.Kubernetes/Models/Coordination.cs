using System.Text.Json;
using System.Text.Json.Serialization;

namespace FlashSale.Kubernetes.Models;

/// <summary>coordination.k8s.io/v1 Lease, the leader election lock.</summary>
public sealed class V1Lease : IKubernetesResource
{
    public static ApiResource ApiResource { get; } = ApiResource.NamespacedKind("coordination.k8s.io", "v1", "Lease", "leases");

    public string? ApiVersion { get; set; } = "coordination.k8s.io/v1";

    public string? Kind { get; set; } = "Lease";

    public V1ObjectMeta Metadata { get; set; } = new();

    public V1LeaseSpec? Spec { get; set; }

    [JsonExtensionData]
    public Dictionary<string, JsonElement>? ExtensionData { get; set; }
}

public sealed class V1LeaseSpec
{
    public string? HolderIdentity { get; set; }

    public int? LeaseDurationSeconds { get; set; }

    [JsonConverter(typeof(KubernetesMicroTimeConverter))]
    public DateTimeOffset? AcquireTime { get; set; }

    [JsonConverter(typeof(KubernetesMicroTimeConverter))]
    public DateTimeOffset? RenewTime { get; set; }

    public int? LeaseTransitions { get; set; }

    [JsonExtensionData]
    public Dictionary<string, JsonElement>? ExtensionData { get; set; }
}

/// <summary>events.k8s.io/v1 Event.</summary>
public sealed class Eventsv1Event : IKubernetesResource
{
    public static ApiResource ApiResource { get; } = ApiResource.NamespacedKind("events.k8s.io", "v1", "Event", "events");

    public string? ApiVersion { get; set; } = "events.k8s.io/v1";

    public string? Kind { get; set; } = "Event";

    public V1ObjectMeta Metadata { get; set; } = new();

    [JsonConverter(typeof(KubernetesMicroTimeConverter))]
    public DateTimeOffset? EventTime { get; set; }

    /// <summary>Normal or Warning.</summary>
    public string? Type { get; set; }

    /// <summary>Why the action was taken, UpperCamelCase (e.g. "StockPreloaded").</summary>
    public string? Reason { get; set; }

    /// <summary>What was done (e.g. "Reconcile").</summary>
    public string? Action { get; set; }

    /// <summary>Human-readable description, at most 1 kB.</summary>
    public string? Note { get; set; }

    public V1ObjectReference? Regarding { get; set; }

    public V1ObjectReference? Related { get; set; }

    public string? ReportingController { get; set; }

    public string? ReportingInstance { get; set; }

    public Eventsv1EventSeries? Series { get; set; }

    [JsonExtensionData]
    public Dictionary<string, JsonElement>? ExtensionData { get; set; }
}

public sealed class Eventsv1EventSeries
{
    public int Count { get; set; }

    [JsonConverter(typeof(KubernetesMicroTimeConverter))]
    public DateTimeOffset LastObservedTime { get; set; }
}

/// <summary>apiextensions.k8s.io/v1 CustomResourceDefinition, modelled for reading (the schema stays raw JSON).</summary>
public sealed class V1CustomResourceDefinition : IKubernetesResource
{
    public static ApiResource ApiResource { get; } = ApiResource.ClusterKind("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions");

    public string? ApiVersion { get; set; } = "apiextensions.k8s.io/v1";

    public string? Kind { get; set; } = "CustomResourceDefinition";

    public V1ObjectMeta Metadata { get; set; } = new();

    public V1CustomResourceDefinitionSpec? Spec { get; set; }

    public V1CustomResourceDefinitionStatus? Status { get; set; }

    [JsonExtensionData]
    public Dictionary<string, JsonElement>? ExtensionData { get; set; }
}

public sealed class V1CustomResourceDefinitionSpec
{
    public string? Group { get; set; }

    public V1CustomResourceDefinitionNames? Names { get; set; }

    /// <summary>Namespaced or Cluster.</summary>
    public string? Scope { get; set; }

    public IList<V1CustomResourceDefinitionVersion>? Versions { get; set; }

    [JsonExtensionData]
    public Dictionary<string, JsonElement>? ExtensionData { get; set; }
}

public sealed class V1CustomResourceDefinitionNames
{
    public string? Kind { get; set; }

    public string? ListKind { get; set; }

    public string? Plural { get; set; }

    public string? Singular { get; set; }

    public IList<string>? ShortNames { get; set; }

    public IList<string>? Categories { get; set; }
}

public sealed class V1CustomResourceDefinitionVersion
{
    public string? Name { get; set; }

    public bool Served { get; set; }

    public bool Storage { get; set; }

    public bool? Deprecated { get; set; }

    public JsonElement? Schema { get; set; }

    public JsonElement? Subresources { get; set; }

    public JsonElement? AdditionalPrinterColumns { get; set; }
}

public sealed class V1CustomResourceDefinitionStatus
{
    public IList<V1Condition>? Conditions { get; set; }

    public V1CustomResourceDefinitionNames? AcceptedNames { get; set; }

    public IList<string>? StoredVersions { get; set; }
}
