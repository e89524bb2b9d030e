using System.Collections.Concurrent;
using System.Net;
using System.Text.Json.Nodes;
using FlashSale.Messaging;
using FlashSale.Operator.Entities;
using FlashSale.Operator.Kubernetes;
using FlashSale.Operator.Runtime;
using FlashSale.Sales;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace FlashSale.Operator.Controller;

public readonly record struct ReconcileResult(TimeSpan? RequeueAfter)
{
    public static ReconcileResult Done => new(null);
}

public sealed class FlashSaleControllerOptions
{
    public string FieldManager { get; set; } = "flashsale-operator";

    public string Finalizer { get; set; } = "flashsale.dev/cleanup";

    /// <summary>How often a Live sale's status is refreshed from Redis (sold, remaining, SoldOut).</summary>
    public TimeSpan LiveStatusInterval { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>Longest wait for RabbitMQ in one reconcile (a broker that hangs must not hold a worker forever).</summary>
    public TimeSpan BrokerTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long the answer "does the ServiceMonitor CRD exist" is cached.</summary>
    public TimeSpan CrdCacheDuration { get; set; } = TimeSpan.FromMinutes(1);
}

/// <summary>
/// Reconciles one FlashSale, level-based and idempotent: children by server-side apply (one field manager, forced),
/// stock preload into Redis and the RabbitMQ topology (both idempotent), the phase from the schedule, status through the
/// status subresource, and a requeue at the next schedule boundary. An invalid spec provisions nothing and is reported
/// as Degraded naming the field. <see cref="FinalizeAsync"/> runs the cleanup policy before the finalizer is released.
/// </summary>
public sealed class FlashSaleController(
    IKubernetes client,
    IConnectionMultiplexer redis,
    IRabbitMqConnection rabbitMq,
    EventRecorder events,
    FlashSaleControllerOptions options,
    ILogger<FlashSaleController> logger,
    TimeProvider? timeProvider = null)
{
    public const string PausedAnnotation = "flashsale.dev/paused";

    public static class ConditionTypes
    {
        public const string Ready = "Ready";
        public const string Progressing = "Progressing";
        public const string Degraded = "Degraded";
        public const string StockPreloaded = "StockPreloaded";
        public const string MessagingReady = "MessagingReady";
        public const string ServicesAvailable = "ServicesAvailable";
        public const string Paused = "Paused";
    }

    public static class Phases
    {
        public const string Pending = "Pending";
        public const string Provisioning = "Provisioning";
        public const string Scheduled = "Scheduled";
        public const string Live = "Live";
        public const string SoldOut = "SoldOut";
        public const string Ended = "Ended";
        public const string Failed = "Failed";
    }

    readonly TimeProvider _time = timeProvider ?? TimeProvider.System;
    readonly ConcurrentDictionary<string, string> _appliedVersions = new();
    (bool Exists, DateTimeOffset At)? _serviceMonitorCrd;

    public async Task<ReconcileResult> ReconcileAsync(V1Alpha1FlashSale fs, CancellationToken cancellationToken)
    {
        if (fs.Metadata.DeletionTimestamp is not null)
        {
            await FinalizeAsync(fs, cancellationToken);
            return ReconcileResult.Done;
        }

        var now = _time.GetUtcNow();
        var generation = fs.Metadata.Generation ?? 0;
        var status = fs.Status ?? new FlashSaleStatus();
        var before = KubernetesJson.Serialize(status);
        var previousPhase = status.Phase;
        var conditions = new List<V1Condition>(status.Conditions ?? []);
        status.Conditions = conditions;
        void Set(string type, bool value, string reason, string message) => conditions.SetCondition(new V1Condition
        {
            Type = type,
            Status = value ? "True" : "False",
            Reason = reason,
            Message = message,
            ObservedGeneration = generation,
        }, now);

        if (IsPaused(fs, out var pausedBy))
        {
            Set(ConditionTypes.Paused, true, "Paused", $"Reconciling is paused by {pausedBy}; nothing is changed until it is removed.");
            status.Phase ??= Phases.Pending;
            await WriteStatusAsync(fs, status, before, cancellationToken);
            return ReconcileResult.Done;
        }

        conditions.RemoveAll(c => c.Type == ConditionTypes.Paused);
        fs = await EnsureFinalizerAsync(fs, cancellationToken);

        var (sale, errors) = SaleMapping.Map(fs);
        if (sale is null)
        {
            var message = "Invalid spec: " + string.Join("; ", errors);
            var wasDegraded = conditions.Find(ConditionTypes.Degraded) is { Status: "True", Reason: "InvalidSpec" } d && d.Message == message;
            Set(ConditionTypes.Degraded, true, "InvalidSpec", message);
            Set(ConditionTypes.Ready, false, "InvalidSpec", message);
            Set(ConditionTypes.Progressing, false, "InvalidSpec", "Nothing is provisioned until the spec is fixed.");
            status.Phase = Phases.Failed;
            status.ObservedGeneration = generation;
            await WriteStatusAsync(fs, status, before, cancellationToken);
            if (!wasDegraded)
            {
                await events.WarningAsync(fs, "InvalidSpec", "Validate", message, cancellationToken);
            }

            return ReconcileResult.Done;
        }

        var spec = fs.Spec!;
        var started = now;
        var deployments = new List<V1Deployment>();
        try
        {
            await ApplyChildAsync(fs, Children.ConfigMap(fs, sale), started, cancellationToken);
            var prescaled = InPrescaleWindow(spec, now);
            foreach (var service in SaleService.All)
            {
                deployments.Add(await ApplyChildAsync(fs, Children.Deployment(fs, service), started, cancellationToken));
                await ApplyChildAsync(fs, Children.Service(fs, service), started, cancellationToken);
                await ApplyChildAsync(fs, Children.DisruptionBudget(fs, service), started, cancellationToken);
                if (Children.Autoscaler(fs, service, prescaled) is { } autoscaler)
                {
                    await ApplyChildAsync(fs, autoscaler, started, cancellationToken);
                }
                else
                {
                    await DeleteStaleAutoscalerAsync(fs, service, cancellationToken);
                }
            }

            await ApplyChildAsync(fs, Children.Ingress(fs), started, cancellationToken);
            if (await ServiceMonitorCrdExistsAsync(cancellationToken))
            {
                var monitor = Children.ServiceMonitor(fs);
                await client.CustomObjects.PatchNamespacedCustomObjectAsync(
                    new V1Patch(monitor, V1Patch.PatchType.ApplyPatch), Children.ServiceMonitorGroup, Children.ServiceMonitorVersion, fs.Namespace(), Children.ServiceMonitorPlural, fs.Name(),
                    fieldManager: options.FieldManager, force: true, cancellationToken: cancellationToken);
            }
        }
        catch (Exception e) when (IsApiFailure(e) || e is FormatException)
        {
            Set(ConditionTypes.Degraded, true, "ApplyFailed", e.ApiMessage());
            Set(ConditionTypes.Ready, false, "ApplyFailed", e.ApiMessage());
            Set(ConditionTypes.Progressing, true, "Retrying", "Applying the children failed; retrying with backoff.");
            status.Phase ??= Phases.Provisioning;
            await TryWriteStatusAsync(fs, status, before, cancellationToken);
            await events.WarningAsync(fs, "ApplyFailed", "Apply", e.ApiMessage(), cancellationToken);
            throw;
        }

        // Outside Kubernetes: the stock in Redis, then the RabbitMQ topology.
        Exception? transient = null;
        var degraded = new List<(string Reason, string Message)>();
        var keys = new SaleKeys(sale.Namespace, sale.Name);
        var store = new SaleStore(redis);
        IReadOnlyList<ProductStock> stock = [];
        var stockPreloaded = false;
        var keepProducts = false;
        try
        {
            var previousStock = (status.Products ?? []).ToDictionary(p => p.Sku, p => p.Stock);
            // A sale preloaded before (or, from operators that predate StockPreloadedAt, with products in its status) that
            // Redis no longer holds lost its stock counters, its buyers' units and its stream with Redis's data: preloading
            // the declared stock again would sell the units already sold a second time.
            if ((status.StockPreloadedAt is not null || status.Products is { Count: > 0 }) && await store.GetSaleAsync(keys) is null)
            {
                throw new SaleLostFromRedisException(
                    $"Redis no longer holds sale {sale.Name}, preloaded before{(status.StockPreloadedAt is { } at ? $" at {at:O}" : "")}: it is not preloaded again, " +
                    "since units already sold would be sold twice, and it takes no orders meanwhile. Restore Redis's data and the next reconcile " +
                    "takes the sale up again; to start it over instead, apply it under a new name with the stock lowered by the units its " +
                    "earlier orders hold (they stay in PostgreSQL under this name), and delete this FlashSale.");
            }
            stock = await store.PreloadAsync(sale);
            stockPreloaded = true;
            status.StockPreloadedAt ??= now;
            Set(ConditionTypes.StockPreloaded, true, "Preloaded", $"{stock.Count} product(s), {stock.Sum(p => p.Initial)} unit(s) in Redis.");
            if (stock.Any(p => !previousStock.TryGetValue(p.Sku, out var s) || s != p.Initial))
            {
                await events.NormalAsync(fs, "StockPreloaded", "Preload", string.Join(", ", stock.Select(p => $"{p.Sku}={p.Initial}")), cancellationToken);
            }
        }
        catch (StockBelowSoldException e)
        {
            degraded.Add(("StockBelowSold", e.Message));
            Set(ConditionTypes.StockPreloaded, false, "StockBelowSold", e.Message);
            stock = await TryGetStockAsync(store, keys);
            if (conditions.Find(ConditionTypes.Degraded) is not { Reason: "StockBelowSold" })
            {
                await events.WarningAsync(fs, "StockBelowSold", "Preload", e.Message, cancellationToken);
            }
        }
        catch (SaleLostFromRedisException e)
        {
            degraded.Add(("SaleLostFromRedis", e.Message));
            Set(ConditionTypes.StockPreloaded, false, "SaleLostFromRedis", e.Message);
            keepProducts = true; // the last figures read from Redis: what a rebuild of the stock needs to know
            if (conditions.Find(ConditionTypes.Degraded) is not { Reason: "SaleLostFromRedis" })
            {
                await events.WarningAsync(fs, "SaleLostFromRedis", "Preload", e.Message, cancellationToken);
            }
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            transient = e;
            Set(ConditionTypes.StockPreloaded, false, "RedisUnavailable", e.Message);
        }

        var messagingReady = false;
        using var brokerTimeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        brokerTimeout.CancelAfter(options.BrokerTimeout);
        try
        {
            var connection = await rabbitMq.GetConnectionAsync(brokerTimeout.Token);
            await new SaleTopology(sale.Namespace, sale.Name).DeclareAsync(connection, sale.PaymentTimeout, brokerTimeout.Token);
            messagingReady = true;
            Set(ConditionTypes.MessagingReady, true, "TopologyDeclared", $"Exchange and queues flashsale.{sale.Namespace}.{sale.Name}.* exist.");
        }
        catch (TopologyConflictException e)
        {
            degraded.Add(("TopologyConflict", e.Message));
            Set(ConditionTypes.MessagingReady, false, "TopologyConflict", e.Message);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            transient ??= e;
            Set(ConditionTypes.MessagingReady, false, "BrokerUnavailable", e is OperationCanceledException ? $"RabbitMQ did not answer within {options.BrokerTimeout}." : e.Message);
        }

        var unavailable = deployments.Where(d => !IsAvailable(d)).Select(d => d.Name()).ToList();
        var servicesAvailable = unavailable.Count == 0;
        Set(ConditionTypes.ServicesAvailable, servicesAvailable,
            servicesAvailable ? "Available" : "Unavailable",
            servicesAvailable ? "Every Deployment is available." : "Waiting for " + string.Join(", ", unavailable) + ".");

        if (degraded.Count > 0)
        {
            Set(ConditionTypes.Degraded, true, degraded[0].Reason, string.Join("; ", degraded.Select(x => x.Message)));
        }
        else
        {
            Set(ConditionTypes.Degraded, false, "AsExpected", "No problems found.");
        }

        var ready = degraded.Count == 0 && stockPreloaded && messagingReady && servicesAvailable;
        var notReadyReason = degraded.Count > 0 ? degraded[0].Reason
            : !stockPreloaded ? "StockNotPreloaded"
            : !messagingReady ? "MessagingNotReady"
            : "ServicesUnavailable";
        Set(ConditionTypes.Ready, ready, ready ? "Ready" : notReadyReason, ready ? "The sale is provisioned and its services are available." : conditions.Find(notReadyReason switch
        {
            "StockNotPreloaded" => ConditionTypes.StockPreloaded,
            "MessagingNotReady" => ConditionTypes.MessagingReady,
            "ServicesUnavailable" => ConditionTypes.ServicesAvailable,
            _ => ConditionTypes.Degraded,
        })?.Message ?? notReadyReason);
        Set(ConditionTypes.Progressing, !ready && degraded.Count == 0, ready ? "Reconciled" : degraded.Count > 0 ? "Blocked" : "Provisioning",
            ready ? "Every child is up to date." : degraded.Count > 0 ? "Blocked by a Degraded condition." : "Waiting for provisioning to finish.");

        if (!keepProducts)
        {
            status.Products = [.. stock.Select(p => new ProductStatus { Sku = p.Sku, Stock = p.Initial, Remaining = p.Remaining, Sold = p.Sold })];
            status.Sold = stock.Sum(p => p.Sold);
            status.Remaining = stock.Sum(p => p.Remaining);
        }
        var provisioned = stock.Count > 0 && messagingReady && servicesAvailable;
        status.Phase = Phase(spec.Schedule, now, provisioned, stock);
        status.ObservedGeneration = generation;
        await WriteStatusAsync(fs, status, before, cancellationToken);
        if (status.Phase != previousPhase)
        {
            await events.NormalAsync(fs, "PhaseChanged", "Schedule", $"{previousPhase ?? Phases.Pending} -> {status.Phase}", cancellationToken);
        }

        if (transient is not null)
        {
            throw new ReconcileException($"{fs.Namespace()}/{fs.Name()}: {transient.Message}", transient);
        }

        return new ReconcileResult(NextRequeue(spec, now, status.Phase));
    }

    /// <summary>Runs the cleanup policy (Delete: the sale's Redis keys and RabbitMQ entities; missing counts as removed), then releases the finalizer.</summary>
    public async Task FinalizeAsync(V1Alpha1FlashSale fs, CancellationToken cancellationToken)
    {
        var finalizers = fs.Metadata.Finalizers ?? [];
        if (!finalizers.Contains(options.Finalizer))
        {
            return;
        }

        if (fs.Spec?.CleanupPolicy == "Delete")
        {
            var ns = fs.Namespace()!;
            await new SaleStore(redis).DeleteAsync(new SaleKeys(ns, fs.Name()));
            using var brokerTimeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            brokerTimeout.CancelAfter(options.BrokerTimeout);
            var connection = await rabbitMq.GetConnectionAsync(brokerTimeout.Token);
            await new SaleTopology(ns, fs.Name()).DeleteAsync(connection, brokerTimeout.Token);
            logger.LogInformation("Removed the Redis keys and RabbitMQ queues of sale {Namespace}/{Name}", ns, fs.Name());
            await events.NormalAsync(fs, "CleanedUp", "Finalize", "Removed the sale's Redis keys and RabbitMQ exchanges and queues (cleanupPolicy: Delete).", cancellationToken);
        }

        await PatchFinalizersAsync(fs, [.. finalizers.Where(f => f != options.Finalizer)], cancellationToken);
    }

    public static bool IsPaused(V1Alpha1FlashSale fs, out string by)
    {
        if (fs.Metadata.Annotations?.TryGetValue(PausedAnnotation, out var value) == true && string.Equals(value, "true", StringComparison.OrdinalIgnoreCase))
        {
            by = $"the annotation {PausedAnnotation}: \"true\"";
            return true;
        }

        by = "spec.paused: true";
        return fs.Spec?.Paused == true;
    }

    public static bool InPrescaleWindow(FlashSaleSpec spec, DateTimeOffset now) =>
        spec.Schedule.PrescaleMinutes is int minutes and > 0
        && now >= spec.Schedule.StartsAt.AddMinutes(-minutes) && now < spec.Schedule.EndsAt;

    public static string Phase(ScheduleSpec schedule, DateTimeOffset now, bool provisioned, IReadOnlyList<ProductStock> stock)
    {
        if (now >= schedule.EndsAt)
        {
            return Phases.Ended;
        }

        if (!provisioned)
        {
            return Phases.Provisioning;
        }

        if (now < schedule.StartsAt)
        {
            return Phases.Scheduled;
        }

        return stock.Count > 0 && stock.All(p => p.Remaining <= 0) ? Phases.SoldOut : Phases.Live;
    }

    TimeSpan? NextRequeue(FlashSaleSpec spec, DateTimeOffset now, string phase)
    {
        var schedule = spec.Schedule;
        DateTimeOffset[] boundaries = [schedule.StartsAt.AddMinutes(-(schedule.PrescaleMinutes ?? 0)), schedule.StartsAt, schedule.EndsAt];
        TimeSpan? next = boundaries.Where(b => b > now).Select(b => b - now + TimeSpan.FromMilliseconds(50)).Cast<TimeSpan?>().Min();
        if (phase is Phases.Live or Phases.Provisioning && (next is null || next > options.LiveStatusInterval))
        {
            next = options.LiveStatusInterval;
        }

        return next;
    }

    static bool IsAvailable(V1Deployment deployment)
    {
        var status = deployment.Status;
        if (status is null || (status.ObservedGeneration is { } observed && observed < (deployment.Metadata.Generation ?? 0)))
        {
            return false;
        }

        return status.Conditions?.Any(c => c.Type == "Available" && c.Status == "True") == true
            || (deployment.Spec?.Replicas is { } wanted ? status.AvailableReplicas >= Math.Max(1, wanted) : status.AvailableReplicas > 0);
    }

    async Task<T> ApplyChildAsync<T>(V1Alpha1FlashSale fs, T child, DateTimeOffset started, CancellationToken cancellationToken)
        where T : class, IKubernetesObject<V1ObjectMeta>
    {
        var applied = await client.ApplyAsync(child, options.FieldManager, cancellationToken);
        var uid = applied.Uid() ?? string.Empty;
        var version = applied.ResourceVersion() ?? string.Empty;
        var known = _appliedVersions.TryGetValue(uid, out var previous);
        _appliedVersions[uid] = version;
        if (!known && applied.Metadata.CreationTimestamp >= started.AddSeconds(-2))
        {
            await events.NormalAsync(fs, "Created", "Apply", $"Created {KubernetesKind<T>.Kind} {applied.Name()}", cancellationToken);
        }
        else if (known && previous != version)
        {
            await events.NormalAsync(fs, "Updated", "Apply", $"Updated {KubernetesKind<T>.Kind} {applied.Name()}", cancellationToken);
        }

        return applied;
    }

    async Task DeleteStaleAutoscalerAsync(V1Alpha1FlashSale fs, SaleService service, CancellationToken cancellationToken)
    {
        var name = Children.NameOf(fs, service);
        var existing = await client.AutoscalingV2.ReadNamespacedHorizontalPodAutoscalerAsync(name, fs.Namespace(), cancellationToken: cancellationToken).OrNullIfNotFound();
        if (existing?.Metadata.OwnerReferences?.Any(o => o.Uid == fs.Uid()) != true)
        {
            return;
        }

        try
        {
            await client.AutoscalingV2.DeleteNamespacedHorizontalPodAutoscalerAsync(name, fs.Namespace(), cancellationToken: cancellationToken);
            await events.NormalAsync(fs, "Deleted", "Apply", $"Deleted HorizontalPodAutoscaler {name}: autoscaling was removed", cancellationToken);
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound)
        {
            // Gone already.
        }
    }

    async Task<bool> ServiceMonitorCrdExistsAsync(CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        if (_serviceMonitorCrd is { } cached && now - cached.At < options.CrdCacheDuration)
        {
            return cached.Exists;
        }

        var exists = await client.ApiextensionsV1.ReadCustomResourceDefinitionAsync(Children.ServiceMonitorCrd, cancellationToken: cancellationToken).OrNullIfNotFound() is not null;
        _serviceMonitorCrd = (exists, now);
        return exists;
    }

    async Task<V1Alpha1FlashSale> EnsureFinalizerAsync(V1Alpha1FlashSale fs, CancellationToken cancellationToken)
    {
        var finalizers = fs.Metadata.Finalizers ?? [];
        return finalizers.Contains(options.Finalizer) ? fs : await PatchFinalizersAsync(fs, [.. finalizers, options.Finalizer], cancellationToken);
    }

    Task<V1Alpha1FlashSale> PatchFinalizersAsync(V1Alpha1FlashSale fs, List<string> finalizers, CancellationToken cancellationToken)
    {
        // The resourceVersion makes this a compare-and-swap: a finalizer list changed meanwhile is not overwritten (409, retried).
        var patch = new JsonObject
        {
            ["metadata"] = new JsonObject
            {
                ["finalizers"] = new JsonArray([.. finalizers.Select(f => JsonValue.Create(f))]),
                ["resourceVersion"] = fs.ResourceVersion(),
            },
        };
        return client.MergePatchNamespacedAsync<V1Alpha1FlashSale>(fs.Namespace(), fs.Name(), patch, options.FieldManager, cancellationToken);
    }

    async Task WriteStatusAsync(V1Alpha1FlashSale fs, FlashSaleStatus status, string before, CancellationToken cancellationToken)
    {
        if (KubernetesJson.Serialize(status) == before)
        {
            return;
        }

        var patch = new V1Alpha1FlashSale
        {
            Metadata = new V1ObjectMeta { Name = fs.Name(), NamespaceProperty = fs.Namespace() },
            Status = status,
        };
        await client.ApplyStatusAsync(patch, options.FieldManager, cancellationToken);
    }

    async Task TryWriteStatusAsync(V1Alpha1FlashSale fs, FlashSaleStatus status, string before, CancellationToken cancellationToken)
    {
        try
        {
            await WriteStatusAsync(fs, status, before, cancellationToken);
        }
        catch (Exception e) when (IsApiFailure(e))
        {
            logger.LogWarning("Could not write the status of {Namespace}/{Name}: {Message}", fs.Namespace(), fs.Name(), e.ApiMessage());
        }
    }

    /// <summary>The API server refused the request or could not be reached (the client's own timeout included).</summary>
    internal static bool IsApiFailure(Exception e) => e is HttpOperationException or HttpRequestException or TimeoutException;

    static async Task<IReadOnlyList<ProductStock>> TryGetStockAsync(SaleStore store, SaleKeys keys)
    {
        try
        {
            return await store.GetStockAsync(keys);
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            return [];
        }
    }
}

/// <summary>Redis no longer holds a sale the operator preloaded before (see <see cref="FlashSaleStatus.StockPreloadedAt"/>).</summary>
public sealed class SaleLostFromRedisException(string message) : Exception(message);

/// <summary>A reconcile that did its part but must be retried with backoff (a dependency was unreachable).</summary>
public sealed class ReconcileException(string message, Exception inner) : Exception(message, inner);
