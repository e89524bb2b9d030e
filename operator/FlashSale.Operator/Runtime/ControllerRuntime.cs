using System.Collections.Concurrent;
using System.Diagnostics;
using FlashSale.Operator.Controller;
using FlashSale.Operator.Entities;
using FlashSale.Operator.Kubernetes;
using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging;

namespace FlashSale.Operator.Runtime;

public sealed class ControllerRuntimeOptions
{
    /// <summary>The namespace watched; null or empty: all namespaces.</summary>
    public string? Namespace { get; set; }

    public int Workers { get; set; } = 2;

    /// <summary>Every known FlashSale is queued again this often, whatever the watches saw.</summary>
    public TimeSpan ResyncPeriod { get; set; } = TimeSpan.FromMinutes(5);

    public ResourceWatcherOptions Watch { get; set; } = new();
}

/// <summary>
/// What runs while this instance leads: list+watch of FlashSales and of the children (by label), a de-duplicating work
/// queue keyed namespace/name feeding the workers, a periodic resync. Each key is fetched again before it is reconciled.
/// </summary>
public sealed class ControllerRuntime(
    IKubernetes client,
    FlashSaleController controller,
    OperatorMetrics metrics,
    ControllerRuntimeOptions options,
    ILogger<ControllerRuntime> logger,
    TimeProvider? timeProvider = null)
{
    public const string ControllerName = "flashsale";

    readonly ConcurrentDictionary<string, (long? Generation, bool Deleting, string? Paused, int Finalizers)> _seen = new();
    volatile bool _synced;

    /// <summary>True once the FlashSales were listed (readiness).</summary>
    public bool Synced => _synced;

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        using var queue = new WorkQueue(ControllerName, timeProvider, metrics);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var ns = string.IsNullOrEmpty(options.Namespace) ? null : options.Namespace;
        var tasks = new List<Task>
        {
            WatchSalesAsync(queue, ns, stop.Token),
            WatchChildrenAsync<V1Deployment>(queue, ns, stop.Token),
            WatchChildrenAsync<V1Service>(queue, ns, stop.Token),
            WatchChildrenAsync<V2HorizontalPodAutoscaler>(queue, ns, stop.Token),
            WatchChildrenAsync<V1PodDisruptionBudget>(queue, ns, stop.Token),
            WatchChildrenAsync<V1ConfigMap>(queue, ns, stop.Token),
            WatchChildrenAsync<V1Ingress>(queue, ns, stop.Token),
            ResyncAsync(queue, stop.Token),
        };
        for (var i = 0; i < Math.Max(1, options.Workers); i++)
        {
            tasks.Add(WorkAsync(queue, stop.Token));
        }

        try
        {
            await Task.Delay(Timeout.Infinite, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Leadership lost or host stopping: finish the reconciles in flight, then return.
        }

        await stop.CancelAsync().ConfigureAwait(false);
        queue.ShutDown();
        foreach (var task in tasks)
        {
            try
            {
                await task.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // Stopped.
            }
        }

        _synced = false;
    }

    async Task WatchSalesAsync(WorkQueue queue, string? ns, CancellationToken cancellationToken)
    {
        var watcher = new ResourceWatcher<V1Alpha1FlashSale>(client, ns, options: options.Watch, logger: logger);
        await foreach (var e in watcher.WatchAsync(cancellationToken).ConfigureAwait(false))
        {
            _synced = true;
            if (e.Type is WatchEventType.Bookmark or WatchEventType.Error)
            {
                continue;
            }

            var key = $"{e.Object.Namespace()}/{e.Object.Name()}";
            if (e.Type == WatchEventType.Deleted)
            {
                _seen.TryRemove(key, out _);
                continue;
            }

            // Status-only changes (our own status writes among them) are skipped: generation, deletion, pause and finalizers are what matter.
            var metadata = e.Object.Metadata;
            var state = (metadata.Generation, metadata.DeletionTimestamp is not null, metadata.Annotations is { } annotations && annotations.TryGetValue(FlashSaleController.PausedAnnotation, out var paused) ? paused : null, metadata.Finalizers?.Count ?? 0);
            if (e.Type == WatchEventType.Modified && _seen.TryGetValue(key, out var before) && before == state)
            {
                continue;
            }

            _seen[key] = state;
            queue.Add(key);
        }
    }

    async Task WatchChildrenAsync<T>(WorkQueue queue, string? ns, CancellationToken cancellationToken)
        where T : class, IKubernetesObject<V1ObjectMeta>
    {
        var watcher = new ResourceWatcher<T>(client, ns, Children.Selector, options.Watch, logger);
        await foreach (var e in watcher.WatchAsync(cancellationToken).ConfigureAwait(false))
        {
            if (e.Type is not (WatchEventType.Bookmark or WatchEventType.Error) && e.Object.Metadata.Labels?.TryGetValue(Children.SaleLabel, out var sale) == true)
            {
                queue.Add($"{e.Object.Namespace()}/{sale}");
            }
        }
    }

    async Task ResyncAsync(WorkQueue queue, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(options.ResyncPeriod, timeProvider ?? TimeProvider.System);
        while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
        {
            foreach (var key in _seen.Keys)
            {
                queue.Add(key);
            }
        }
    }

    async Task WorkAsync(WorkQueue queue, CancellationToken cancellationToken)
    {
        while (await queue.GetAsync(cancellationToken).ConfigureAwait(false) is { } key)
        {
            var started = Stopwatch.GetTimestamp();
            string? result = "success";
            try
            {
                var slash = key.IndexOf('/');
                var fs = await client.GetNamespacedAsync<V1Alpha1FlashSale>(key[..slash], key[(slash + 1)..], cancellationToken).ConfigureAwait(false);
                if (fs is null)
                {
                    queue.Forget(key);
                    continue;
                }

                using var scope = logger.BeginScope(new Dictionary<string, object?>
                {
                    ["Kind"] = V1Alpha1FlashSale.KindName,
                    ["Namespace"] = fs.Namespace(),
                    ["Name"] = fs.Name(),
                    ["ResourceVersion"] = fs.ResourceVersion(),
                });
                var outcome = await controller.ReconcileAsync(fs, cancellationToken).ConfigureAwait(false);
                queue.Forget(key);
                if (outcome.RequeueAfter is { } after)
                {
                    result = "requeue_after";
                    queue.AddAfter(key, after);
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                result = null; // Stopped mid-reconcile: neither a success nor an error.
                return;
            }
            catch (Exception e)
            {
                result = "error";
                var delay = queue.AddRateLimited(key);
                logger.LogWarning(e, "Reconciling {Key} failed ({Failures} in a row), retrying in {Delay}: {Message}", key, queue.Failures(key), delay, e.Message);
            }
            finally
            {
                if (result is not null)
                {
                    metrics.Reconciled(ControllerName, result, Stopwatch.GetElapsedTime(started));
                }

                queue.Done(key);
            }
        }
    }
}
