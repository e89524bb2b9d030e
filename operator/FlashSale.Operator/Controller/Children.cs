using System.Text.Json.Nodes;
using FlashSale.Operator.Entities;
using FlashSale.Operator.Kubernetes;
using FlashSale.Sales;
using k8s;
using k8s.Models;

namespace FlashSale.Operator.Controller;

/// <summary>The four services of a sale and what each needs.</summary>
public sealed record SaleService(string Name, bool Postgres, bool Redis, bool RabbitMq, bool Http)
{
    public static readonly IReadOnlyList<SaleService> All =
    [
        new("users", Postgres: true, Redis: true, RabbitMq: true, Http: true), // Redis: the login limits every replica shares
        new("stock", Postgres: true, Redis: true, RabbitMq: true, Http: true),
        new("orders", Postgres: true, Redis: true, RabbitMq: true, Http: true),
        new("notifications", Postgres: true, Redis: false, RabbitMq: true, Http: true),
    ];

    public ServiceSpec? SpecIn(FlashSaleSpec spec) => Name switch
    {
        "users" => spec.Services?.Users,
        "stock" => spec.Services?.Stock,
        "orders" => spec.Services?.Orders,
        _ => spec.Services?.Notifications,
    };
}

/// <summary>
/// Builds the desired children of a FlashSale: exactly the fields the operator owns (server-side apply removes any it
/// stops sending). Names: &lt;sale&gt;-&lt;service&gt;; labels select by sale and service.
/// </summary>
public static class Children
{
    public const string ManagedByLabel = "app.kubernetes.io/managed-by";
    public const string ManagedBy = "flashsale-operator";
    public const string SaleLabel = "flashsale.dev/sale";
    public const string ComponentLabel = "app.kubernetes.io/component";
    public const int HttpPort = 8080;
    public const string SaleFileKey = "sale.yaml";
    public const string SaleFileDirectory = "/etc/flashsale";

    /// <summary>The label selector of everything the operator creates (its child watches use it).</summary>
    public static string Selector => $"{ManagedByLabel}={ManagedBy}";

    public static string NameOf(V1Alpha1FlashSale fs, SaleService service) => $"{fs.Name()}-{service.Name}";

    public static string ConfigMapName(V1Alpha1FlashSale fs) => $"{fs.Name()}-sale";

    public static Dictionary<string, string> SelectorLabels(V1Alpha1FlashSale fs, SaleService service) => new()
    {
        ["app.kubernetes.io/name"] = "flashsale-" + service.Name,
        ["app.kubernetes.io/instance"] = fs.Name(),
    };

    public static Dictionary<string, string> Labels(V1Alpha1FlashSale fs, SaleService? service)
    {
        var labels = service is null ? new Dictionary<string, string> { ["app.kubernetes.io/instance"] = fs.Name() } : SelectorLabels(fs, service);
        labels["app.kubernetes.io/part-of"] = "flashsale";
        labels[ManagedByLabel] = ManagedBy;
        labels[SaleLabel] = fs.Name();
        if (service is not null)
        {
            labels[ComponentLabel] = service.Name;
        }

        return labels;
    }

    public static V1ObjectMeta Metadata(V1Alpha1FlashSale fs, string name, SaleService? service) => new()
    {
        Name = name,
        NamespaceProperty = fs.Namespace(),
        Labels = Labels(fs, service),
        OwnerReferences = [fs.ToOwnerReference()],
    };

    public static V1ConfigMap ConfigMap(V1Alpha1FlashSale fs, SaleDefinition sale) => new V1ConfigMap
    {
        Metadata = Metadata(fs, ConfigMapName(fs), null),
        Data = new Dictionary<string, string> { [SaleFileKey] = SaleFile.ToYaml(sale) },
    }.Typed();

    /// <summary>The Deployment; <paramref name="autoscaled"/> leaves replicas out, for the HPA owns them.</summary>
    public static V1Deployment Deployment(V1Alpha1FlashSale fs, SaleService service)
    {
        var spec = fs.Spec!;
        var serviceSpec = service.SpecIn(spec);
        var autoscaled = serviceSpec?.Autoscaling is not null;
        return new V1Deployment
        {
            Metadata = Metadata(fs, NameOf(fs, service), service),
            Spec = new V1DeploymentSpec
            {
                Replicas = autoscaled ? null : serviceSpec?.Replicas ?? 1,
                Selector = new V1LabelSelector { MatchLabels = SelectorLabels(fs, service) },
                RevisionHistoryLimit = 5,
                Strategy = new V1DeploymentStrategy
                {
                    Type = "RollingUpdate",
                    RollingUpdate = new V1RollingUpdateDeployment { MaxSurge = "25%", MaxUnavailable = 0 },
                },
                Template = new V1PodTemplateSpec
                {
                    Metadata = new V1ObjectMeta { Labels = Labels(fs, service) },
                    Spec = PodSpec(fs, service, serviceSpec),
                },
            },
        }.Typed();
    }

    static V1PodSpec PodSpec(V1Alpha1FlashSale fs, SaleService service, ServiceSpec? serviceSpec)
    {
        var spec = fs.Spec!;
        var probe = (string path, int period, int failures) => new V1Probe
        {
            HttpGet = new V1HTTPGetAction { Path = path, Port = "http" },
            PeriodSeconds = period,
            TimeoutSeconds = 2,
            FailureThreshold = failures,
        };
        return new V1PodSpec
        {
            AutomountServiceAccountToken = false,
            TerminationGracePeriodSeconds = 30,
            SecurityContext = new V1PodSecurityContext
            {
                RunAsNonRoot = true,
                RunAsUser = 1654,
                RunAsGroup = 1654,
                FsGroup = 1654,
                SeccompProfile = new V1SeccompProfile { Type = "RuntimeDefault" },
            },
            Containers =
            [
                new V1Container
                {
                    Name = service.Name,
                    Image = $"{spec.Image.Repository.TrimEnd('/')}/flashsale-{service.Name}:{spec.Image.Tag}",
                    ImagePullPolicy = spec.Image.PullPolicy ?? "IfNotPresent",
                    Ports = [new V1ContainerPort { Name = "http", ContainerPort = HttpPort, Protocol = "TCP" }],
                    Env = Env(fs, service),
                    Resources = Resources(service, serviceSpec?.Resources),
                    StartupProbe = probe("/healthz/live", 2, 30),
                    LivenessProbe = probe("/healthz/live", 10, 3),
                    ReadinessProbe = probe("/healthz/ready", 5, 3),
                    SecurityContext = new V1SecurityContext
                    {
                        AllowPrivilegeEscalation = false,
                        ReadOnlyRootFilesystem = true,
                        RunAsNonRoot = true,
                        Capabilities = new V1Capabilities { Drop = ["ALL"] },
                        SeccompProfile = new V1SeccompProfile { Type = "RuntimeDefault" },
                    },
                    VolumeMounts =
                    [
                        new V1VolumeMount { Name = "tmp", MountPath = "/tmp" },
                        new V1VolumeMount { Name = "sale", MountPath = SaleFileDirectory, ReadOnlyProperty = true },
                    ],
                },
            ],
            Volumes =
            [
                new V1Volume { Name = "tmp", EmptyDir = new V1EmptyDirVolumeSource { SizeLimit = "64Mi" } },
                new V1Volume { Name = "sale", ConfigMap = new V1ConfigMapVolumeSource { Name = ConfigMapName(fs) } },
            ],
        };
    }

    /// <summary>Where the ingress controller runs when the resource does not say: the private ranges that cluster networks use.</summary>
    public static readonly IReadOnlyList<string> DefaultTrustedProxyNetworks = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"];

    /// <summary>The in-cluster base address of a service of the sale (its Service listens on port 80).</summary>
    public static string ServiceUrl(V1Alpha1FlashSale fs, string service) => $"http://{fs.Name()}-{service}.{fs.Namespace()}.svc";

    /// <summary>
    /// The container's whole configuration: the only place that says how a service of a sale is configured (local runs start
    /// their processes from it too, see Local/LocalPlatform).
    /// </summary>
    static List<V1EnvVar> Env(V1Alpha1FlashSale fs, SaleService service)
    {
        var spec = fs.Spec!;
        var ns = fs.Namespace()!;
        var sale = fs.Name();
        var secret = (string name, string secretName, string key, bool optional) => new V1EnvVar
        {
            Name = name,
            ValueFrom = new V1EnvVarSource { SecretKeyRef = new V1SecretKeySelector { Name = secretName, Key = key, Optional = optional ? true : null } },
        };
        var env = new List<V1EnvVar>
        {
            new() { Name = "ASPNETCORE_HTTP_PORTS", Value = HttpPort.ToString(System.Globalization.CultureInfo.InvariantCulture) },
            new() { Name = "FlashSale__SaleFile", Value = $"{SaleFileDirectory}/{SaleFileKey}" },
        };
        var networks = spec.Ingress?.TrustedProxyNetworks is { Count: > 0 } configured ? configured : DefaultTrustedProxyNetworks;
        for (var i = 0; i < networks.Count; i++)
        {
            env.Add(new() { Name = $"Http__ForwardedHeaders__KnownNetworks__{i}", Value = networks[i] });
        }

        if (service.Postgres)
        {
            env.Add(secret("ConnectionStrings__Postgres", spec.Infrastructure.Postgres.SecretRef.Name, spec.Infrastructure.Postgres.SecretRef.Key, false));
        }

        if (service.Redis)
        {
            env.Add(secret("ConnectionStrings__Redis", spec.Infrastructure.Redis.SecretRef.Name, spec.Infrastructure.Redis.SecretRef.Key, false));
        }

        if (service.RabbitMq)
        {
            env.Add(secret("ConnectionStrings__RabbitMq", spec.Infrastructure.RabbitMq.SecretRef.Name, spec.Infrastructure.RabbitMq.SecretRef.Key, false));
            env.Add(new() { Name = "RabbitMq__Namespace", Value = ns });
            env.Add(new() { Name = "RabbitMq__Sale", Value = sale });
        }

        if (service.Name == "users")
        {
            env.Add(secret("Auth__SigningKeyPem", spec.Auth.SigningKeySecretRef.Name, spec.Auth.SigningKeySecretRef.Key, false));
            for (var i = 0; i < (spec.Auth.VerificationKeySecretRefs?.Count ?? 0); i++)
            {
                var key = spec.Auth.VerificationKeySecretRefs![i];
                env.Add(secret($"Auth__VerificationKeyPems__{i}", key.Name, key.Key, false));
            }

            if (spec.Auth.AdminSecretRef is { } admin)
            {
                env.Add(secret("Users__Admin__Username", admin.Name, "username", false));
                env.Add(secret("Users__Admin__Password", admin.Name, "password", false));
            }
        }
        else
        {
            env.Add(new() { Name = "Auth__JwksUrl", Value = $"{ServiceUrl(fs, "users")}/.well-known/jwks.json" });
        }

        if (service.Name == "orders")
        {
            env.Add(new() { Name = "Orders__Namespace", Value = ns });
            env.Add(new() { Name = "Orders__Payment__UsersUrl", Value = ServiceUrl(fs, "users") });
        }

        if (service.Name == "stock")
        {
            env.Add(new() { Name = "Stock__Namespace", Value = ns });
            env.Add(new() { Name = "Stock__Sale", Value = sale });
        }

        if (service.Name == "notifications" && spec.Notifications?.SmtpSecretRef is { } smtp)
        {
            env.Add(new() { Name = "Notifications__Delivery", Value = "smtp" });
            env.Add(secret("Notifications__Smtp__Host", smtp.Name, "host", false));
            env.Add(secret("Notifications__Smtp__Port", smtp.Name, "port", false));
            foreach (var (name, key) in new[] { ("Username", "username"), ("Password", "password"), ("Security", "security"), ("From", "from") })
            {
                env.Add(secret($"Notifications__Smtp__{name}", smtp.Name, key, true));
            }
        }

        foreach (var extra in service.SpecIn(spec)?.Env ?? [])
        {
            env.Add(new() { Name = extra.Name, Value = extra.Value ?? "" });
        }

        return env;
    }

    /// <summary>The names <see cref="Env"/> sets itself, which spec.services.*.env may not set again.</summary>
    public static bool IsOwnedEnvName(V1Alpha1FlashSale fs, SaleService service, string name)
    {
        var rendered = Env(fs, service);
        var owned = rendered.Take(rendered.Count - (service.SpecIn(fs.Spec!)?.Env?.Count ?? 0));
        return name.StartsWith("Http__ForwardedHeaders__", StringComparison.OrdinalIgnoreCase)
            || name.StartsWith("Auth__VerificationKeyPems__", StringComparison.OrdinalIgnoreCase)
            || owned.Any(e => string.Equals(e.Name, name, StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>The defaults with the spec's requests and limits over them. Throws FormatException naming a value that is not a quantity.</summary>
    static V1ResourceRequirements Resources(SaleService service, ResourcesSpec? resources)
    {
        var requests = new Dictionary<string, ResourceQuantity> { ["cpu"] = "100m", ["memory"] = "128Mi" };
        var limits = new Dictionary<string, ResourceQuantity> { ["cpu"] = "1", ["memory"] = "512Mi" };
        foreach (var (k, v) in resources?.Requests ?? new Dictionary<string, string>())
        {
            requests[k] = Quantity(service, "requests", k, v);
        }

        foreach (var (k, v) in resources?.Limits ?? new Dictionary<string, string>())
        {
            limits[k] = Quantity(service, "limits", k, v);
        }

        return new V1ResourceRequirements { Requests = requests, Limits = limits };
    }

    static ResourceQuantity Quantity(SaleService service, string list, string name, string value)
    {
        try
        {
            return value;
        }
        catch (FormatException)
        {
            throw new FormatException($"spec.services.{service.Name}.resources.{list}.{name}: '{value}' is not a quantity (such as 250m or 256Mi)");
        }
    }

    public static V1Service Service(V1Alpha1FlashSale fs, SaleService service) => new V1Service
    {
        Metadata = Metadata(fs, NameOf(fs, service), service),
        Spec = new V1ServiceSpec
        {
            Type = "ClusterIP",
            Selector = SelectorLabels(fs, service),
            Ports = [new V1ServicePort { Name = "http", Port = 80, TargetPort = "http", Protocol = "TCP" }],
        },
    }.Typed();

    /// <summary>The HPA, or null when the service has a fixed replica count. minReplicas is raised to maxReplicas while <paramref name="prescaled"/>.</summary>
    public static V2HorizontalPodAutoscaler? Autoscaler(V1Alpha1FlashSale fs, SaleService service, bool prescaled)
    {
        if (service.SpecIn(fs.Spec!)?.Autoscaling is not { } autoscaling)
        {
            return null;
        }

        return new V2HorizontalPodAutoscaler
        {
            Metadata = Metadata(fs, NameOf(fs, service), service),
            Spec = new V2HorizontalPodAutoscalerSpec
            {
                ScaleTargetRef = new V2CrossVersionObjectReference { ApiVersion = "apps/v1", Kind = "Deployment", Name = NameOf(fs, service) },
                MinReplicas = prescaled ? autoscaling.MaxReplicas : autoscaling.MinReplicas,
                MaxReplicas = autoscaling.MaxReplicas,
                Metrics =
                [
                    new V2MetricSpec
                    {
                        Type = "Resource",
                        Resource = new V2ResourceMetricSource
                        {
                            Name = "cpu",
                            Target = new V2MetricTarget { Type = "Utilization", AverageUtilization = autoscaling.TargetCPUUtilizationPercentage },
                        },
                    },
                ],
            },
        }.Typed();
    }

    public static V1PodDisruptionBudget DisruptionBudget(V1Alpha1FlashSale fs, SaleService service) => new V1PodDisruptionBudget
    {
        Metadata = Metadata(fs, NameOf(fs, service), service),
        Spec = new V1PodDisruptionBudgetSpec
        {
            MaxUnavailable = 1,
            Selector = new V1LabelSelector { MatchLabels = SelectorLabels(fs, service) },
            UnhealthyPodEvictionPolicy = "AlwaysAllow",
        },
    }.Typed();

    /// <summary>Routes /api/... of this sale to its services (the longest matching prefix wins).</summary>
    public static V1Ingress Ingress(V1Alpha1FlashSale fs)
    {
        var sale = fs.Name();
        var route = (string path, string service) => new V1HTTPIngressPath
        {
            Path = path,
            PathType = "Prefix",
            Backend = new V1IngressBackend
            {
                Service = new V1IngressServiceBackend { Name = $"{sale}-{service}", Port = new V1ServiceBackendPort { Name = "http" } },
            },
        };
        return new V1Ingress
        {
            Metadata = Metadata(fs, sale, null),
            Spec = new V1IngressSpec
            {
                IngressClassName = fs.Spec!.Ingress?.ClassName,
                Rules =
                [
                    new V1IngressRule
                    {
                        Host = string.IsNullOrEmpty(fs.Spec.Ingress?.Host) ? null : fs.Spec.Ingress.Host,
                        Http = new V1HTTPIngressRuleValue
                        {
                            Paths =
                            [
                                route("/api/users", "users"),
                                route("/api/wallet", "users"),
                                route($"/api/sales/{sale}/orders", "orders"),
                                route("/api/orders", "orders"),
                                route("/api/notifications", "notifications"),
                                route($"/api/sales/{sale}", "stock"),
                            ],
                        },
                    },
                ],
            },
        }.Typed();
    }

    /// <summary>
    /// Every object a reconcile applies, in the order it applies them (the ServiceMonitor last, applied only where its CRD
    /// exists), as the JSON sent to the API server.
    /// </summary>
    public static IReadOnlyList<JsonObject> Render(V1Alpha1FlashSale fs, SaleDefinition sale, bool prescaled)
    {
        // apiVersion, kind and metadata first, as kubectl shows an object (the models write their fields in alphabetical order).
        static JsonObject Json(object obj)
        {
            var json = JsonNode.Parse(KubernetesJson.Serialize(obj))!.AsObject();
            var ordered = new JsonObject();
            foreach (var key in new[] { "apiVersion", "kind", "metadata" }.Concat(json.Select(p => p.Key)).Distinct().ToList())
            {
                if (json.Remove(key, out var value))
                {
                    ordered[key] = value;
                }
            }

            return ordered;
        }

        var objects = new List<JsonObject> { Json(ConfigMap(fs, sale)) };
        foreach (var service in SaleService.All)
        {
            objects.Add(Json(Deployment(fs, service)));
            objects.Add(Json(Service(fs, service)));
            objects.Add(Json(DisruptionBudget(fs, service)));
            if (Autoscaler(fs, service, prescaled) is { } autoscaler)
            {
                objects.Add(Json(autoscaler));
            }
        }

        objects.Add(Json(Ingress(fs)));
        objects.Add(ServiceMonitor(fs));
        return objects;
    }

    public const string ServiceMonitorGroup = "monitoring.coreos.com";
    public const string ServiceMonitorVersion = "v1";
    public const string ServiceMonitorPlural = "servicemonitors";
    public const string ServiceMonitorCrd = $"{ServiceMonitorPlural}.{ServiceMonitorGroup}";

    /// <summary>A Prometheus Operator ServiceMonitor scraping /metrics of every service of the sale.</summary>
    public static JsonObject ServiceMonitor(V1Alpha1FlashSale fs)
    {
        var owner = fs.ToOwnerReference();
        var labels = new JsonObject();
        foreach (var (k, v) in Labels(fs, null))
        {
            labels[k] = v;
        }

        return new JsonObject
        {
            ["apiVersion"] = $"{ServiceMonitorGroup}/{ServiceMonitorVersion}",
            ["kind"] = "ServiceMonitor",
            ["metadata"] = new JsonObject
            {
                ["name"] = fs.Name(),
                ["namespace"] = fs.Namespace(),
                ["labels"] = labels,
                ["ownerReferences"] = new JsonArray(new JsonObject
                {
                    ["apiVersion"] = owner.ApiVersion,
                    ["kind"] = owner.Kind,
                    ["name"] = owner.Name,
                    ["uid"] = owner.Uid,
                    ["controller"] = true,
                    ["blockOwnerDeletion"] = true,
                }),
            },
            ["spec"] = new JsonObject
            {
                ["selector"] = new JsonObject { ["matchLabels"] = new JsonObject { ["app.kubernetes.io/instance"] = fs.Name(), [SaleLabel] = fs.Name() } },
                // Copied from each Service onto its series (as flashsale_dev_sale, app_kubernetes_io_component): a series says
                // which sale and component it came from even where a metric has no sale label of its own.
                ["targetLabels"] = new JsonArray(SaleLabel, ComponentLabel),
                ["endpoints"] = new JsonArray(new JsonObject { ["port"] = "http", ["path"] = "/metrics", ["interval"] = "15s" }),
            },
        };
    }
}
