using System.Globalization;
using FlashSale.Kubernetes.Models;

namespace FlashSale.Kubernetes;

/// <summary>Builds events.k8s.io/v1 Events about an object, named as client-go's recorder names them.</summary>
public static class KubernetesEvents
{
    public const string Normal = "Normal";
    public const string Warning = "Warning";
    private const int MaxNoteBytes = 1024;

    /// <summary>An Event regarding <paramref name="regarding"/>, in its namespace ("default" for cluster-scoped objects); create it with CreateAsync.</summary>
    public static Eventsv1Event About<T>(
        T regarding,
        string type,
        string reason,
        string action,
        string note,
        string reportingController,
        string reportingInstance,
        DateTimeOffset now)
        where T : IKubernetesResource
    {
        var name = regarding.Name();
        var ticks = (now.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) * 100;
        return new Eventsv1Event
        {
            Metadata = new V1ObjectMeta
            {
                Name = $"{name}.{ticks.ToString("x", CultureInfo.InvariantCulture)}",
                NamespaceProperty = regarding.Namespace() ?? "default",
            },
            EventTime = now,
            Type = type,
            Reason = reason,
            Action = action,
            Note = Truncate(note),
            Regarding = new V1ObjectReference
            {
                ApiVersion = T.ApiResource.ApiVersion,
                Kind = T.ApiResource.Kind,
                Name = name,
                NamespaceProperty = regarding.Namespace(),
                Uid = regarding.Uid(),
                ResourceVersion = regarding.ResourceVersion(),
            },
            ReportingController = reportingController,
            ReportingInstance = reportingInstance,
        };
    }

    private static string Truncate(string note)
    {
        if (System.Text.Encoding.UTF8.GetByteCount(note) <= MaxNoteBytes)
        {
            return note;
        }

        var cut = note[..Math.Min(note.Length, MaxNoteBytes - 3)];
        while (System.Text.Encoding.UTF8.GetByteCount(cut) > MaxNoteBytes - 3)
        {
            cut = cut[..^1];
        }

        return cut + "...";
    }
}
