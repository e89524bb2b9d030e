using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using System.Text.Json.Serialization;
using FlashSale.Operator.Crd;
using k8s;
using k8s.Models;

namespace FlashSale.Operator.Entities;

/// <summary>A flash sale: its schedule, products and stock, and the services that sell them.</summary>
[Description("A flash sale: a short scheduled window selling a limited stock, with the services, autoscaling and messaging that serve it.")]
[PrinterColumn("Phase", "string", ".status.phase")]
[PrinterColumn("Start", "date", ".spec.schedule.startsAt")]
[PrinterColumn("End", "date", ".spec.schedule.endsAt")]
[PrinterColumn("Sold", "integer", ".status.sold")]
[PrinterColumn("Remaining", "integer", ".status.remaining")]
[PrinterColumn("Ready", "string", ".status.conditions[?(@.type==\"Ready\")].status")]
[PrinterColumn("Age", "date", ".metadata.creationTimestamp")]
[KubernetesEntity(Group = Group, ApiVersion = Version, Kind = KindName, PluralName = Plural)]
public sealed class V1Alpha1FlashSale : IKubernetesObject<V1ObjectMeta>, ISpec<FlashSaleSpec?>, IStatus<FlashSaleStatus?>
{
    public const string Group = "flashsale.dev";
    public const string Version = "v1alpha1";
    public const string KindName = "FlashSale";
    public const string Plural = "flashsales";
    public const string ShortName = "fs";

    public string ApiVersion { get; set; } = $"{Group}/{Version}";

    public string Kind { get; set; } = KindName;

    public V1ObjectMeta Metadata { get; set; } = new();

    public FlashSaleSpec? Spec { get; set; }

    public FlashSaleStatus? Status { get; set; }
}

public sealed class FlashSaleSpec
{
    [Required]
    [Description("When the sale opens and closes.")]
    public ScheduleSpec Schedule { get; set; } = new();

    [DefaultValue("15m")]
    [RegularExpression(@"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$")]
    [Description("How long a reserved order may stay unpaid before its units return to stock (Go duration: 15m, 1h30m).")]
    public string? PaymentTimeout { get; set; }

    [Required]
    [MinLength(1)]
    [MaxItems(100)]
    [ListMap("sku")]
    [CelRule("self.all(p, self.exists_one(q, q.sku == p.sku))", "spec.products skus must be unique")]
    [Description("The products on sale; skus are unique.")]
    public IList<ProductSpec> Products { get; set; } = [];

    [Description("Replicas, autoscaling and resources of each service.")]
    public ServicesSpec? Services { get; set; }

    [Required]
    [Description("Where the service images come from: <repository>/flashsale-<service>:<tag>.")]
    public ImageSpec Image { get; set; } = new();

    [Required]
    [Description("Secrets holding the connection strings of PostgreSQL, Redis and RabbitMQ.")]
    public InfrastructureSpec Infrastructure { get; set; } = new();

    [Required]
    [Description("The Secret holding the users service's JWT signing key (PEM).")]
    public AuthSpec Auth { get; set; } = new();

    [Description("The Ingress routing /api/... to the services.")]
    public IngressSpec? Ingress { get; set; }

    [Description("How buyers are told about their orders: by mail through SMTP, or to the notifications service's log when no SMTP Secret is given.")]
    public NotificationsSpec? Notifications { get; set; }

    [DefaultValue("Retain")]
    [AllowedValues("Retain", "Delete")]
    [Description("Delete removes the sale's Redis keys and RabbitMQ queues when the FlashSale is deleted; Retain keeps them.")]
    public string? CleanupPolicy { get; set; }

    [DefaultValue(false)]
    [Description("Stops reconciling (as the annotation flashsale.dev/paused: \"true\" does).")]
    public bool? Paused { get; set; }
}

[CelRule("self.endsAt > self.startsAt", "spec.schedule.endsAt must be after spec.schedule.startsAt", FieldPath = ".endsAt")]
public sealed class ScheduleSpec
{
    [Required]
    [Format("date-time")]
    [Description("Opening time (RFC 3339).")]
    public DateTimeOffset StartsAt { get; set; }

    [Required]
    [Format("date-time")]
    [Description("Closing time (RFC 3339), after startsAt.")]
    public DateTimeOffset EndsAt { get; set; }

    [DefaultValue(0)]
    [Range(0, 1440)]
    [Description("Minutes before startsAt at which the minReplicas of autoscaled services is raised to their maxReplicas (0: never); restored after endsAt.")]
    public int? PrescaleMinutes { get; set; }
}

[CelRule("self.stock >= 0", "spec.products[].stock must be >= 0", FieldPath = ".stock")]
[CelRule("self.perUserLimit >= 1", "spec.products[].perUserLimit must be >= 1", FieldPath = ".perUserLimit")]
public sealed class ProductSpec
{
    [Required]
    [MinLength(1)]
    [MaxLength(64)]
    [RegularExpression("^[^|#]+$")]
    [Description("Stock keeping unit, unique within the sale.")]
    public string Sku { get; set; } = "";

    [Description("Display name.")]
    public string? Name { get; set; }

    [Required]
    [Range(0d, double.MaxValue)]
    [Description("Unit price.")]
    public decimal Price { get; set; }

    [DefaultValue("EUR")]
    [RegularExpression("^[A-Z]{3}$")]
    [Description("ISO 4217 currency code.")]
    public string? Currency { get; set; }

    [Required]
    [Range(0L, long.MaxValue)]
    [Description("Units on sale. Raising it adds the difference; lowering it below the units sold is refused.")]
    public long Stock { get; set; }

    [DefaultValue(1)]
    [Range(1, int.MaxValue)]
    [Description("Most units one user may buy.")]
    public int PerUserLimit { get; set; } = 1;
}

public sealed class ServicesSpec
{
    public ServiceSpec? Users { get; set; }

    public ServiceSpec? Stock { get; set; }

    public ServiceSpec? Orders { get; set; }

    public ServiceSpec? Notifications { get; set; }
}

[CelRule("!has(self.autoscaling) || self.autoscaling.minReplicas <= self.autoscaling.maxReplicas", "autoscaling.minReplicas must not exceed maxReplicas", FieldPath = ".autoscaling.minReplicas")]
public sealed class ServiceSpec
{
    [DefaultValue(1)]
    [Range(0, 1000)]
    [Description("Replicas when autoscaling is not set.")]
    public int? Replicas { get; set; }

    [Description("A HorizontalPodAutoscaler owns the replicas when set.")]
    public AutoscalingSpec? Autoscaling { get; set; }

    [Description("Container requests and limits (cpu, memory).")]
    public ResourcesSpec? Resources { get; set; }

    [Description("Extra environment variables of the service's container: configuration keys such as Users__PasswordHashIterations. " +
        "Names the operator sets itself are refused.")]
    [MaxItems(32)]
    [ListMap("name")]
    public List<EnvVarSpec>? Env { get; set; }
}

public sealed class EnvVarSpec
{
    [Required]
    [MinLength(1)]
    [MaxLength(128)]
    [RegularExpression("^[A-Za-z_][A-Za-z0-9_]*$")]
    [Description("A configuration key with __ between sections (Users__LoginRateLimit__PerAddress).")]
    public string Name { get; set; } = "";

    [MaxLength(4096)]
    public string? Value { get; set; }
}

public sealed class AutoscalingSpec
{
    [DefaultValue(1)]
    [Range(1, 1000)]
    public int MinReplicas { get; set; } = 1;

    [Required]
    [Range(1, 1000)]
    public int MaxReplicas { get; set; }

    [DefaultValue(70)]
    [Range(1, 100)]
    [JsonPropertyName("targetCPUUtilizationPercentage")]
    public int TargetCPUUtilizationPercentage { get; set; } = 70;
}

public sealed class ResourcesSpec
{
    [Description("Quantities such as cpu: 250m, memory: 256Mi.")]
    public IDictionary<string, string>? Requests { get; set; }

    public IDictionary<string, string>? Limits { get; set; }
}

public sealed class ImageSpec
{
    [Required]
    [MinLength(1)]
    [Description("Registry and path; the image of a service is <repository>/flashsale-<service>:<tag>.")]
    public string Repository { get; set; } = "";

    [Required]
    [MinLength(1)]
    public string Tag { get; set; } = "";

    [DefaultValue("IfNotPresent")]
    [AllowedValues("Always", "IfNotPresent", "Never")]
    public string? PullPolicy { get; set; }
}

public sealed class InfrastructureSpec
{
    [Required]
    public SecretSource Postgres { get; set; } = new();

    [Required]
    public SecretSource Redis { get; set; } = new();

    [Required]
    [JsonPropertyName("rabbitmq")]
    public SecretSource RabbitMq { get; set; } = new();
}

public sealed class SecretSource
{
    [Required]
    public SecretKeyRef SecretRef { get; set; } = new();
}

public sealed class SecretKeyRef
{
    [Required]
    [MinLength(1)]
    public string Name { get; set; } = "";

    [Required]
    [MinLength(1)]
    public string Key { get; set; } = "";
}

public sealed class AuthSpec
{
    [Required]
    public SecretKeyRef SigningKeySecretRef { get; set; } = new();

    [Description("Keys the users service publishes in its JWKS and trusts but never signs with: the next key before a rotation " +
        "(so every service knows it before its first token) and the previous one after it (its tokens stay valid until they expire).")]
    [MaxItems(5)]
    public List<SecretKeyRef>? VerificationKeySecretRefs { get; set; }

    [Description("A kubernetes.io/basic-auth Secret (keys username and password, at least 12 characters) naming the one admin account, " +
        "created or reset by the users service at start. Without it nobody is admin: the audit and wallet top-ups cannot be used.")]
    public SecretNameRef? AdminSecretRef { get; set; }
}

public sealed class SecretNameRef
{
    [Required]
    [MinLength(1)]
    [MaxLength(253)]
    [RegularExpression("^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")]
    public string Name { get; set; } = "";
}

public sealed class NotificationsSpec
{
    [Description("A Secret with the SMTP settings: keys host and port; optional username, password, security (none, starttls, ssl or auto) " +
        "and from. Without it notifications are written to the log.")]
    public SecretNameRef? SmtpSecretRef { get; set; }
}

public sealed class IngressSpec
{
    [Description("Host name the Ingress answers; any host when empty.")]
    public string? Host { get; set; }

    [Description("IngressClass to use; the cluster default when empty.")]
    public string? ClassName { get; set; }

    [Description("Networks (CIDR) of the ingress controller: only from peers in them do the services take the client address from " +
        "X-Forwarded-For (per-client login limits). Default: the private ranges 10.0.0.0/8, 172.16.0.0/12 and 192.168.0.0/16.")]
    [MaxItems(16)]
    public List<string>? TrustedProxyNetworks { get; set; }
}

public sealed class FlashSaleStatus
{
    [AllowedValues("Pending", "Provisioning", "Scheduled", "Live", "SoldOut", "Ended", "Failed")]
    [Description("Pending, Provisioning, Scheduled, Live, SoldOut, Ended or Failed.")]
    public string? Phase { get; set; }

    [Description("The generation this status describes.")]
    public long? ObservedGeneration { get; set; }

    [ListMap("type")]
    [Description("Ready, Progressing, Degraded, StockPreloaded, MessagingReady, ServicesAvailable, Paused.")]
    public IList<V1Condition>? Conditions { get; set; }

    [ListMap("sku")]
    [Description("Stock figures per product, read from Redis.")]
    public IList<ProductStatus>? Products { get; set; }

    [Description("Units sold, all products.")]
    public long? Sold { get; set; }

    [Description("Units left, all products.")]
    public long? Remaining { get; set; }

    [Description("When the stock was first preloaded into Redis. The operator's memory that the sale exists: a Redis that no longer holds the sale is not preloaded again (units already sold would be sold twice); the sale is Degraded with reason SaleLostFromRedis instead.")]
    public DateTimeOffset? StockPreloadedAt { get; set; }
}

public sealed class ProductStatus
{
    [Required]
    public string Sku { get; set; } = "";

    public long Stock { get; set; }

    public long Remaining { get; set; }

    public long Sold { get; set; }
}
