using k8s;
using k8s.Models;

namespace FlashSale.Operator.Kubernetes;

/// <summary>Calls on a custom kind through the official client's CustomObjects API, the kind named by its [KubernetesEntity].</summary>
public static class CustomResources
{
    /// <summary>The object, or null when it does not exist.</summary>
    public static Task<T?> GetNamespacedAsync<T>(this IKubernetes client, string @namespace, string name, CancellationToken cancellationToken = default)
        where T : class, IKubernetesObject<V1ObjectMeta> =>
        client.CustomObjects.GetNamespacedCustomObjectAsync<T>(
            KubernetesKind<T>.Group, KubernetesKind<T>.Version, @namespace, KubernetesKind<T>.Plural, name, cancellationToken).OrNullIfNotFound();

    /// <summary>JSON merge patch (RFC 7386): null removes a field; a metadata.resourceVersion in the patch is a precondition.</summary>
    public static Task<T> MergePatchNamespacedAsync<T>(this IKubernetes client, string @namespace, string name, object patch, string fieldManager, CancellationToken cancellationToken = default)
        where T : class, IKubernetesObject<V1ObjectMeta> =>
        client.CustomObjects.PatchNamespacedCustomObjectAsync<T>(
            new V1Patch(patch, V1Patch.PatchType.MergePatch), KubernetesKind<T>.Group, KubernetesKind<T>.Version, @namespace, KubernetesKind<T>.Plural, name,
            fieldManager: fieldManager, cancellationToken: cancellationToken);

    /// <summary>Server-side apply to the status subresource (send apiVersion, kind, metadata name/namespace and status), forced.</summary>
    public static Task<T> ApplyStatusAsync<T>(this IKubernetes client, T obj, string fieldManager, CancellationToken cancellationToken = default)
        where T : class, IKubernetesObject<V1ObjectMeta> =>
        client.CustomObjects.PatchNamespacedCustomObjectStatusAsync<T>(
            new V1Patch(obj.Typed(), V1Patch.PatchType.ApplyPatch), KubernetesKind<T>.Group, KubernetesKind<T>.Version, obj.Namespace(), KubernetesKind<T>.Plural, obj.Name(),
            fieldManager: fieldManager, force: true, cancellationToken: cancellationToken);
}
