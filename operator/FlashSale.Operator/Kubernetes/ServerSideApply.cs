using k8s;
using k8s.Models;

namespace FlashSale.Operator.Kubernetes;

/// <summary>
/// Server-side apply of the children through the official client's typed Patch calls, forced: the object holds exactly the
/// fields the manager owns, and fields it applied before and no longer sends are removed.
/// </summary>
public static class ServerSideApply
{
    public static async Task<T> ApplyAsync<T>(this IKubernetes client, T obj, string fieldManager, CancellationToken cancellationToken = default)
        where T : class, IKubernetesObject<V1ObjectMeta>
    {
        var patch = new V1Patch(obj.Typed(), V1Patch.PatchType.ApplyPatch);
        var (name, ns) = (obj.Name(), obj.Namespace());
        object applied = obj switch
        {
            V1ConfigMap => await client.CoreV1.PatchNamespacedConfigMapAsync(patch, name, ns, fieldManager: fieldManager, force: true, cancellationToken: cancellationToken),
            V1Service => await client.CoreV1.PatchNamespacedServiceAsync(patch, name, ns, fieldManager: fieldManager, force: true, cancellationToken: cancellationToken),
            V1Deployment => await client.AppsV1.PatchNamespacedDeploymentAsync(patch, name, ns, fieldManager: fieldManager, force: true, cancellationToken: cancellationToken),
            V2HorizontalPodAutoscaler => await client.AutoscalingV2.PatchNamespacedHorizontalPodAutoscalerAsync(patch, name, ns, fieldManager: fieldManager, force: true, cancellationToken: cancellationToken),
            V1PodDisruptionBudget => await client.PolicyV1.PatchNamespacedPodDisruptionBudgetAsync(patch, name, ns, fieldManager: fieldManager, force: true, cancellationToken: cancellationToken),
            V1Ingress => await client.NetworkingV1.PatchNamespacedIngressAsync(patch, name, ns, fieldManager: fieldManager, force: true, cancellationToken: cancellationToken),
            _ => throw new NotSupportedException($"No server-side apply for {typeof(T).Name}."),
        };
        return (T)applied;
    }
}
