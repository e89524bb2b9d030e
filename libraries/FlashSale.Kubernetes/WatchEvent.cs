namespace FlashSale.Kubernetes;

public enum WatchEventType
{
    Added,
    Modified,
    Deleted,

    /// <summary>Only metadata.resourceVersion is set: every change up to that version has been sent.</summary>
    Bookmark,

    /// <summary>Never yielded: an ERROR event's Status is thrown as a <see cref="KubernetesApiException"/> (410 as <see cref="KubernetesGoneException"/>).</summary>
    Error,
}

public readonly record struct WatchEvent<T>(WatchEventType Type, T Object);
