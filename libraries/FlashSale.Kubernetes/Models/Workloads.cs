using System.Text.Json;
using System.Text.Json.Serialization;

namespace FlashSale.Kubernetes.Models;

public sealed class V1Deployment : IKubernetesResource
{
    public static ApiResource ApiResource { get; } = ApiResource.NamespacedKind("apps", "v1", "Deployment", "deployments");

    public string? ApiVersion { get; set; } = "apps/v1";

    public string? Kind { get; set; } = "Deployment";

    public V1ObjectMeta Metadata { get; set; } = new();

    public V1DeploymentSpec? Spec { get; set; }

    public V1DeploymentStatus? Status { get; set; }

    [JsonExtensionData]
    public Dictionary<string, JsonElement>? ExtensionData { get; set; }
}

public sealed class V1DeploymentSpec
{
    public int? Replicas { get; set; }

    public V1LabelSelector? Selector { get; set; }

    public V1PodTemplateSpec? Template { get; set; }

    public V1DeploymentStrategy? Strategy { get; set; }

    public int? MinReadySeconds { get; set; }

    public int? RevisionHistoryLimit { get; set; }

    public int? ProgressDeadlineSeconds { get; set; }

    public bool? Paused { get; set; }

    [JsonExtensionData]
    public Dictionary<string, JsonElement>? ExtensionData { get; set; }
}

public sealed class V1DeploymentStrategy
{
    /// <summary>RollingUpdate (default) or Recreate.</summary>
    public string? Type { get; set; }

    public V1RollingUpdateDeployment? RollingUpdate { get; set; }
}

public sealed class V1RollingUpdateDeployment
{
    public IntOrString? MaxSurge { get; set; }

    public IntOrString? MaxUnavailable { get; set; }
}

public sealed class V1DeploymentStatus
{
    public long? ObservedGeneration { get; set; }

    public int? Replicas { get; set; }

    public int? UpdatedReplicas { get; set; }

    public int? ReadyReplicas { get; set; }

    public int? AvailableReplicas { get; set; }

    public int? UnavailableReplicas { get; set; }

    public IList<V1DeploymentCondition>? Conditions { get; set; }

    [JsonExtensionData]
    public Dictionary<string, JsonElement>? ExtensionData { get; set; }
}

public sealed class V1DeploymentCondition
{
    /// <summary>Available, Progressing or ReplicaFailure.</summary>
    public string? Type { get; set; }

    public string? Status { get; set; }

    public DateTimeOffset? LastUpdateTime { get; set; }

    public DateTimeOffset? LastTransitionTime { get; set; }

    public string? Reason { get; set; }

    public string? Message { get; set; }
}

/// <summary>autoscaling/v2 HorizontalPodAutoscaler.</summary>
public sealed class V2HorizontalPodAutoscaler : IKubernetesResource
{
    public static ApiResource ApiResource { get; } = ApiResource.NamespacedKind("autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers");

    public string? ApiVersion { get; set; } = "autoscaling/v2";

    public string? Kind { get; set; } = "HorizontalPodAutoscaler";

    public V1ObjectMeta Metadata { get; set; } = new();

    public V2HorizontalPodAutoscalerSpec? Spec { get; set; }

    public V2HorizontalPodAutoscalerStatus? Status { get; set; }

    [JsonExtensionData]
    public Dictionary<string, JsonElement>? ExtensionData { get; set; }
}

public sealed class V2HorizontalPodAutoscalerSpec
{
    public V2CrossVersionObjectReference? ScaleTargetRef { get; set; }

    public int? MinReplicas { get; set; }

    public int MaxReplicas { get; set; }

    public IList<V2MetricSpec>? Metrics { get; set; }

    public V2HorizontalPodAutoscalerBehavior? Behavior { get; set; }

    [JsonExtensionData]
    public Dictionary<string, JsonElement>? ExtensionData { get; set; }
}

public sealed class V2CrossVersionObjectReference
{
    public string? ApiVersion { get; set; }

    public string? Kind { get; set; }

    public string? Name { get; set; }
}

public sealed class V2MetricSpec
{
    /// <summary>Resource, Pods, Object, External or ContainerResource.</summary>
    public string? Type { get; set; }

    public V2ResourceMetricSource? Resource { get; set; }

    [JsonExtensionData]
    public Dictionary<string, JsonElement>? ExtensionData { get; set; }
}

public sealed class V2ResourceMetricSource
{
    public string? Name { get; set; }

    public V2MetricTarget? Target { get; set; }
}

public sealed class V2MetricTarget
{
    /// <summary>Utilization, Value or AverageValue.</summary>
    public string? Type { get; set; }

    public int? AverageUtilization { get; set; }

    public string? AverageValue { get; set; }

    public string? Value { get; set; }
}

public sealed class V2HorizontalPodAutoscalerBehavior
{
    public V2HPAScalingRules? ScaleUp { get; set; }

    public V2HPAScalingRules? ScaleDown { get; set; }
}

public sealed class V2HPAScalingRules
{
    public int? StabilizationWindowSeconds { get; set; }

    public string? SelectPolicy { get; set; }

    public IList<V2HPAScalingPolicy>? Policies { get; set; }
}

public sealed class V2HPAScalingPolicy
{
    /// <summary>Pods or Percent.</summary>
    public string? Type { get; set; }

    public int Value { get; set; }

    public int PeriodSeconds { get; set; }
}

public sealed class V2HorizontalPodAutoscalerStatus
{
    public long? ObservedGeneration { get; set; }

    public int? CurrentReplicas { get; set; }

    public int? DesiredReplicas { get; set; }

    public DateTimeOffset? LastScaleTime { get; set; }

    public IList<V1Condition>? Conditions { get; set; }

    [JsonExtensionData]
    public Dictionary<string, JsonElement>? ExtensionData { get; set; }
}

/// <summary>policy/v1 PodDisruptionBudget.</summary>
public sealed class V1PodDisruptionBudget : IKubernetesResource
{
    public static ApiResource ApiResource { get; } = ApiResource.NamespacedKind("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets");

    public string? ApiVersion { get; set; } = "policy/v1";

    public string? Kind { get; set; } = "PodDisruptionBudget";

    public V1ObjectMeta Metadata { get; set; } = new();

    public V1PodDisruptionBudgetSpec? Spec { get; set; }

    public V1PodDisruptionBudgetStatus? Status { get; set; }

    [JsonExtensionData]
    public Dictionary<string, JsonElement>? ExtensionData { get; set; }
}

public sealed class V1PodDisruptionBudgetSpec
{
    public IntOrString? MinAvailable { get; set; }

    public IntOrString? MaxUnavailable { get; set; }

    public V1LabelSelector? Selector { get; set; }

    public string? UnhealthyPodEvictionPolicy { get; set; }
}

public sealed class V1PodDisruptionBudgetStatus
{
    public long? ObservedGeneration { get; set; }

    public int CurrentHealthy { get; set; }

    public int DesiredHealthy { get; set; }

    public int DisruptionsAllowed { get; set; }

    public int ExpectedPods { get; set; }

    public IList<V1Condition>? Conditions { get; set; }

    [JsonExtensionData]
    public Dictionary<string, JsonElement>? ExtensionData { get; set; }
}

/// <summary>networking.k8s.io/v1 Ingress.</summary>
public sealed class V1Ingress : IKubernetesResource
{
    public static ApiResource ApiResource { get; } = ApiResource.NamespacedKind("networking.k8s.io", "v1", "Ingress", "ingresses");

    public string? ApiVersion { get; set; } = "networking.k8s.io/v1";

    public string? Kind { get; set; } = "Ingress";

    public V1ObjectMeta Metadata { get; set; } = new();

    public V1IngressSpec? Spec { get; set; }

    public V1IngressStatus? Status { get; set; }

    [JsonExtensionData]
    public Dictionary<string, JsonElement>? ExtensionData { get; set; }
}

public sealed class V1IngressSpec
{
    public string? IngressClassName { get; set; }

    public V1IngressBackend? DefaultBackend { get; set; }

    public IList<V1IngressRule>? Rules { get; set; }

    public IList<V1IngressTLS>? Tls { get; set; }
}

public sealed class V1IngressRule
{
    public string? Host { get; set; }

    public V1HTTPIngressRuleValue? Http { get; set; }
}

public sealed class V1HTTPIngressRuleValue
{
    public IList<V1HTTPIngressPath>? Paths { get; set; }
}

public sealed class V1HTTPIngressPath
{
    public string? Path { get; set; }

    /// <summary>Prefix, Exact or ImplementationSpecific.</summary>
    public string? PathType { get; set; }

    public V1IngressBackend? Backend { get; set; }
}

public sealed class V1IngressBackend
{
    public V1IngressServiceBackend? Service { get; set; }
}

public sealed class V1IngressServiceBackend
{
    public string? Name { get; set; }

    public V1ServiceBackendPort? Port { get; set; }
}

public sealed class V1ServiceBackendPort
{
    public int? Number { get; set; }

    public string? Name { get; set; }
}

public sealed class V1IngressTLS
{
    public IList<string>? Hosts { get; set; }

    public string? SecretName { get; set; }
}

public sealed class V1IngressStatus
{
    public V1IngressLoadBalancerStatus? LoadBalancer { get; set; }
}

public sealed class V1IngressLoadBalancerStatus
{
    public IList<V1LoadBalancerIngress>? Ingress { get; set; }
}
