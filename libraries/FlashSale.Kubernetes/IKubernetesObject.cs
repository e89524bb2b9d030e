using FlashSale.Kubernetes.Models;

namespace FlashSale.Kubernetes;

/// <summary>Any object with apiVersion, kind and metadata.</summary>
public interface IKubernetesObject
{
    string? ApiVersion { get; set; }

    string? Kind { get; set; }

    V1ObjectMeta Metadata { get; set; }
}

/// <summary>A kind the client can address: it knows its group, version, plural and scope.</summary>
public interface IKubernetesResource : IKubernetesObject
{
    static abstract ApiResource ApiResource { get; }
}

public static class KubernetesObjectExtensions
{
    public static string Name(this IKubernetesObject obj) => obj.Metadata.Name ?? throw new InvalidOperationException($"{obj.Kind} has no metadata.name.");

    public static string? Namespace(this IKubernetesObject obj) => obj.Metadata.NamespaceProperty;

    public static string? ResourceVersion(this IKubernetesObject obj) => obj.Metadata.ResourceVersion;

    public static string? Uid(this IKubernetesObject obj) => obj.Metadata.Uid;

    /// <summary>An owner reference to this object, as a controller owner by default (what server-side applied children carry).</summary>
    public static V1OwnerReference ToOwnerReference<T>(this T owner, bool controller = true, bool blockOwnerDeletion = true)
        where T : IKubernetesResource => new()
        {
            ApiVersion = T.ApiResource.ApiVersion,
            Kind = T.ApiResource.Kind,
            Name = owner.Name(),
            Uid = owner.Uid() ?? throw new InvalidOperationException($"{T.ApiResource.Kind} '{owner.Name()}' has no uid: read it from the server first."),
            Controller = controller,
            BlockOwnerDeletion = blockOwnerDeletion,
        };
}
