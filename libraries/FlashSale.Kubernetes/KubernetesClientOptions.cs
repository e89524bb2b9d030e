using System.Text.Json.Serialization.Metadata;
using Microsoft.Extensions.Logging;

namespace FlashSale.Kubernetes;

public sealed class KubernetesClientOptions
{
    /// <summary>Source-generated contexts for the caller's own kinds (custom resources); consulted before the built-in one.</summary>
    public IList<IJsonTypeInfoResolver> TypeInfoResolvers { get; } = [];

    public ILoggerFactory? LoggerFactory { get; set; }

    /// <summary>Time limit of one request (a watch is limited by its timeoutSeconds instead).</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(30);

    public KubernetesRetryOptions Retry { get; set; } = new();

    public string UserAgent { get; set; } = "FlashSale.Kubernetes";
}

/// <summary>
/// 429 is retried after its Retry-After; 500, 503 and 504 (and a failed connection, except for POST) back off exponentially;
/// any other status is answered at once.
/// </summary>
public sealed class KubernetesRetryOptions
{
    /// <summary>Attempts in all, the first included; 1 disables retries.</summary>
    public int MaxAttempts { get; set; } = 5;

    public TimeSpan InitialBackoff { get; set; } = TimeSpan.FromMilliseconds(200);

    public TimeSpan MaxBackoff { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>A Retry-After longer than this is shortened to it.</summary>
    public TimeSpan MaxRetryAfter { get; set; } = TimeSpan.FromSeconds(60);
}
