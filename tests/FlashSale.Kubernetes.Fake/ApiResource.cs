using System.Reflection;
using k8s.Models;

namespace FlashSale.Kubernetes.Fake;

/// <summary>Where a kind lives in the API: group, version, kind, plural resource name and scope.</summary>
public sealed record ApiResource(string Group, string Version, string Kind, string Plural, bool Namespaced)
{
    public static ApiResource NamespacedKind(string group, string version, string kind, string plural) => new(group, version, kind, plural, true);

    public static ApiResource ClusterKind(string group, string version, string kind, string plural) => new(group, version, kind, plural, false);

    /// <summary>The kind a model class names in its [KubernetesEntity] attribute (the official models' and custom resources').</summary>
    public static ApiResource Of<T>(bool namespaced = true)
    {
        var entity = typeof(T).GetCustomAttribute<KubernetesEntityAttribute>()
            ?? throw new InvalidOperationException($"{typeof(T).Name} has no [KubernetesEntity] attribute.");
        return new(entity.Group ?? "", entity.ApiVersion, entity.Kind, entity.PluralName, namespaced);
    }

    /// <summary>"v1" for the core group, "group/version" otherwise.</summary>
    public string ApiVersion => Group.Length == 0 ? Version : $"{Group}/{Version}";

    /// <summary>"deployments.apps", the form used in API messages and CRD names.</summary>
    public string GroupResource => Group.Length == 0 ? Plural : $"{Plural}.{Group}";
}
