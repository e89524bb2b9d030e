using FlashSale.Operator.Controller;
using FlashSale.Operator.Kubernetes;
using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging;

namespace FlashSale.Operator.Runtime;

/// <summary>Writes events.k8s.io/v1 Events about an object; a failure to record is logged, never thrown.</summary>
public sealed class EventRecorder(IKubernetes client, string controller, string instance, ILogger<EventRecorder> logger, TimeProvider? time = null)
{
    readonly TimeProvider _clock = time ?? TimeProvider.System;

    public Task NormalAsync<T>(T regarding, string reason, string action, string note, CancellationToken cancellationToken = default)
        where T : IKubernetesObject<V1ObjectMeta> => RecordAsync(regarding, "Normal", reason, action, note, cancellationToken);

    public Task WarningAsync<T>(T regarding, string reason, string action, string note, CancellationToken cancellationToken = default)
        where T : IKubernetesObject<V1ObjectMeta> => RecordAsync(regarding, "Warning", reason, action, note, cancellationToken);

    async Task RecordAsync<T>(T regarding, string type, string reason, string action, string note, CancellationToken cancellationToken)
        where T : IKubernetesObject<V1ObjectMeta>
    {
        var now = _clock.GetUtcNow();
        var e = new Eventsv1Event
        {
            Metadata = new V1ObjectMeta
            {
                Name = $"{regarding.Name()}.{now.ToUnixTimeMilliseconds():x}{Random.Shared.Next(0x1000):x3}",
                NamespaceProperty = regarding.Namespace(),
            },
            EventTime = now.UtcDateTime,
            Type = type,
            Reason = reason,
            Action = action,
            Note = note.Length > 1024 ? note[..1021] + "..." : note,
            ReportingController = controller,
            ReportingInstance = instance,
            Regarding = new V1ObjectReference
            {
                ApiVersion = KubernetesKind<T>.ApiVersion,
                Kind = KubernetesKind<T>.Kind,
                Name = regarding.Name(),
                NamespaceProperty = regarding.Namespace(),
                Uid = regarding.Uid(),
                ResourceVersion = regarding.ResourceVersion(),
            },
        }.Typed();
        try
        {
            await client.EventsV1.CreateNamespacedEventAsync(e, regarding.Namespace(), cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (FlashSaleController.IsApiFailure(ex))
        {
            logger.LogWarning("Could not record event {Reason} on {Namespace}/{Name}: {Message}", reason, regarding.Namespace(), regarding.Name(), ex.ApiMessage());
        }
    }
}
