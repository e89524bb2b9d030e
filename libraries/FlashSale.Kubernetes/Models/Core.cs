using System.Text.Json;
using System.Text.Json.Serialization;

namespace FlashSale.Kubernetes.Models;

// Core (v1) kinds the operator writes, and the pod template shared by workloads.
// Top-level objects, specs and statuses keep fields this model lacks in ExtensionData,
// so a read-modify-replace does not silently drop them.

public sealed class V1ConfigMap : IKubernetesResource
{
    public static ApiResource ApiResource { get; } = ApiResource.NamespacedKind("", "v1", "ConfigMap", "configmaps");

    public string? ApiVersion { get; set; } = "v1";

    public string? Kind { get; set; } = "ConfigMap";

    public V1ObjectMeta Metadata { get; set; } = new();

    public IDictionary<string, string>? Data { get; set; }

    public IDictionary<string, string>? BinaryData { get; set; }

    public bool? Immutable { get; set; }

    [JsonExtensionData]
    public Dictionary<string, JsonElement>? ExtensionData { get; set; }
}

public sealed class V1Secret : IKubernetesResource
{
    public static ApiResource ApiResource { get; } = ApiResource.NamespacedKind("", "v1", "Secret", "secrets");

    public string? ApiVersion { get; set; } = "v1";

    public string? Kind { get; set; } = "Secret";

    public V1ObjectMeta Metadata { get; set; } = new();

    public string? Type { get; set; }

    /// <summary>Base64 values, as on the wire.</summary>
    public IDictionary<string, string>? Data { get; set; }

    public IDictionary<string, string>? StringData { get; set; }

    [JsonExtensionData]
    public Dictionary<string, JsonElement>? ExtensionData { get; set; }
}

public sealed class V1Service : IKubernetesResource
{
    public static ApiResource ApiResource { get; } = ApiResource.NamespacedKind("", "v1", "Service", "services");

    public string? ApiVersion { get; set; } = "v1";

    public string? Kind { get; set; } = "Service";

    public V1ObjectMeta Metadata { get; set; } = new();

    public V1ServiceSpec? Spec { get; set; }

    public V1ServiceStatus? Status { get; set; }

    [JsonExtensionData]
    public Dictionary<string, JsonElement>? ExtensionData { get; set; }
}

public sealed class V1ServiceSpec
{
    /// <summary>ClusterIP (default), NodePort, LoadBalancer or ExternalName.</summary>
    public string? Type { get; set; }

    public IDictionary<string, string>? Selector { get; set; }

    public IList<V1ServicePort>? Ports { get; set; }

    public string? ClusterIP { get; set; }

    public string? SessionAffinity { get; set; }

    public bool? PublishNotReadyAddresses { get; set; }

    [JsonExtensionData]
    public Dictionary<string, JsonElement>? ExtensionData { get; set; }
}

public sealed class V1ServicePort
{
    public string? Name { get; set; }

    public int Port { get; set; }

    public IntOrString? TargetPort { get; set; }

    public string? Protocol { get; set; }

    public string? AppProtocol { get; set; }

    public int? NodePort { get; set; }
}

public sealed class V1ServiceStatus
{
    public V1LoadBalancerStatus? LoadBalancer { get; set; }

    public IList<V1Condition>? Conditions { get; set; }

    [JsonExtensionData]
    public Dictionary<string, JsonElement>? ExtensionData { get; set; }
}

public sealed class V1LoadBalancerStatus
{
    public IList<V1LoadBalancerIngress>? Ingress { get; set; }
}

public sealed class V1LoadBalancerIngress
{
    public string? Ip { get; set; }

    public string? Hostname { get; set; }
}

public sealed class V1PodTemplateSpec
{
    public V1ObjectMeta? Metadata { get; set; }

    public V1PodSpec? Spec { get; set; }
}

public sealed class V1PodSpec
{
    public IList<V1Container>? Containers { get; set; }

    public IList<V1Container>? InitContainers { get; set; }

    public IList<V1Volume>? Volumes { get; set; }

    public string? ServiceAccountName { get; set; }

    public bool? AutomountServiceAccountToken { get; set; }

    public long? TerminationGracePeriodSeconds { get; set; }

    public V1PodSecurityContext? SecurityContext { get; set; }

    public IDictionary<string, string>? NodeSelector { get; set; }

    public IList<V1LocalObjectReference>? ImagePullSecrets { get; set; }

    public IList<V1Toleration>? Tolerations { get; set; }

    public IList<V1TopologySpreadConstraint>? TopologySpreadConstraints { get; set; }

    public string? PriorityClassName { get; set; }

    [JsonExtensionData]
    public Dictionary<string, JsonElement>? ExtensionData { get; set; }
}

public sealed class V1Container
{
    public string? Name { get; set; }

    public string? Image { get; set; }

    public string? ImagePullPolicy { get; set; }

    public IList<string>? Command { get; set; }

    public IList<string>? Args { get; set; }

    public IList<V1EnvVar>? Env { get; set; }

    public IList<V1EnvFromSource>? EnvFrom { get; set; }

    public IList<V1ContainerPort>? Ports { get; set; }

    public V1ResourceRequirements? Resources { get; set; }

    public V1Probe? LivenessProbe { get; set; }

    public V1Probe? ReadinessProbe { get; set; }

    public V1Probe? StartupProbe { get; set; }

    public IList<V1VolumeMount>? VolumeMounts { get; set; }

    public V1SecurityContext? SecurityContext { get; set; }

    public V1Lifecycle? Lifecycle { get; set; }

    [JsonExtensionData]
    public Dictionary<string, JsonElement>? ExtensionData { get; set; }
}

public sealed class V1EnvVar
{
    public string? Name { get; set; }

    public string? Value { get; set; }

    public V1EnvVarSource? ValueFrom { get; set; }
}

public sealed class V1EnvVarSource
{
    public V1KeySelector? SecretKeyRef { get; set; }

    public V1KeySelector? ConfigMapKeyRef { get; set; }

    public V1ObjectFieldSelector? FieldRef { get; set; }
}

/// <summary>secretKeyRef / configMapKeyRef.</summary>
public sealed class V1KeySelector
{
    public string? Name { get; set; }

    public string? Key { get; set; }

    public bool? Optional { get; set; }
}

public sealed class V1ObjectFieldSelector
{
    public string? FieldPath { get; set; }

    public string? ApiVersion { get; set; }
}

public sealed class V1EnvFromSource
{
    public string? Prefix { get; set; }

    public V1LocalObjectReference? ConfigMapRef { get; set; }

    public V1LocalObjectReference? SecretRef { get; set; }
}

public sealed class V1LocalObjectReference
{
    public string? Name { get; set; }

    public bool? Optional { get; set; }
}

public sealed class V1ContainerPort
{
    public string? Name { get; set; }

    public int ContainerPort { get; set; }

    public string? Protocol { get; set; }
}

public sealed class V1ResourceRequirements
{
    /// <summary>Quantities as strings ("250m", "256Mi").</summary>
    public IDictionary<string, string>? Requests { get; set; }

    public IDictionary<string, string>? Limits { get; set; }
}

public sealed class V1Probe
{
    public V1HttpGetAction? HttpGet { get; set; }

    public V1TcpSocketAction? TcpSocket { get; set; }

    public V1ExecAction? Exec { get; set; }

    public V1GrpcAction? Grpc { get; set; }

    public int? InitialDelaySeconds { get; set; }

    public int? PeriodSeconds { get; set; }

    public int? TimeoutSeconds { get; set; }

    public int? SuccessThreshold { get; set; }

    public int? FailureThreshold { get; set; }
}

public sealed class V1HttpGetAction
{
    public string? Path { get; set; }

    public IntOrString Port { get; set; }

    public string? Scheme { get; set; }
}

public sealed class V1TcpSocketAction
{
    public IntOrString Port { get; set; }
}

public sealed class V1ExecAction
{
    public IList<string>? Command { get; set; }
}

public sealed class V1GrpcAction
{
    public int Port { get; set; }

    public string? Service { get; set; }
}

public sealed class V1Lifecycle
{
    public V1LifecycleHandler? PreStop { get; set; }

    public V1LifecycleHandler? PostStart { get; set; }
}

public sealed class V1LifecycleHandler
{
    public V1ExecAction? Exec { get; set; }

    public V1HttpGetAction? HttpGet { get; set; }

    public V1SleepAction? Sleep { get; set; }
}

public sealed class V1SleepAction
{
    public long Seconds { get; set; }
}

public sealed class V1VolumeMount
{
    public string? Name { get; set; }

    public string? MountPath { get; set; }

    public string? SubPath { get; set; }

    public bool? ReadOnly { get; set; }
}

public sealed class V1Volume
{
    public string? Name { get; set; }

    public V1ConfigMapVolumeSource? ConfigMap { get; set; }

    public V1SecretVolumeSource? Secret { get; set; }

    public V1EmptyDirVolumeSource? EmptyDir { get; set; }
}

public sealed class V1ConfigMapVolumeSource
{
    public string? Name { get; set; }

    public bool? Optional { get; set; }

    public int? DefaultMode { get; set; }
}

public sealed class V1SecretVolumeSource
{
    public string? SecretName { get; set; }

    public bool? Optional { get; set; }

    public int? DefaultMode { get; set; }
}

public sealed class V1EmptyDirVolumeSource
{
    public string? Medium { get; set; }

    public string? SizeLimit { get; set; }
}

public sealed class V1PodSecurityContext
{
    public bool? RunAsNonRoot { get; set; }

    public long? RunAsUser { get; set; }

    public long? RunAsGroup { get; set; }

    public long? FsGroup { get; set; }

    public V1SeccompProfile? SeccompProfile { get; set; }
}

public sealed class V1SecurityContext
{
    public bool? AllowPrivilegeEscalation { get; set; }

    public bool? ReadOnlyRootFilesystem { get; set; }

    public bool? RunAsNonRoot { get; set; }

    public long? RunAsUser { get; set; }

    public V1Capabilities? Capabilities { get; set; }

    public V1SeccompProfile? SeccompProfile { get; set; }
}

public sealed class V1Capabilities
{
    public IList<string>? Add { get; set; }

    public IList<string>? Drop { get; set; }
}

public sealed class V1SeccompProfile
{
    /// <summary>RuntimeDefault, Localhost or Unconfined.</summary>
    public string? Type { get; set; }
}

public sealed class V1Toleration
{
    public string? Key { get; set; }

    public string? Operator { get; set; }

    public string? Value { get; set; }

    public string? Effect { get; set; }

    public long? TolerationSeconds { get; set; }
}

public sealed class V1TopologySpreadConstraint
{
    public int MaxSkew { get; set; }

    public string? TopologyKey { get; set; }

    public string? WhenUnsatisfiable { get; set; }

    public V1LabelSelector? LabelSelector { get; set; }
}
