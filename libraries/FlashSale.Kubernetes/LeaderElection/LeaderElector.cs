using FlashSale.Kubernetes.Models;
using Microsoft.Extensions.Logging;

namespace FlashSale.Kubernetes.LeaderElection;

/// <summary>Leader election settings; the defaults are controller-runtime's (15 s lease, 10 s renew deadline, 2 s retry).</summary>
public sealed class LeaderElectionOptions
{
    public required string LeaseName { get; init; }

    public required string LeaseNamespace { get; init; }

    /// <summary>Unique per candidate, usually the pod name.</summary>
    public required string Identity { get; init; }

    /// <summary>How long followers wait, from the last change they saw, before taking the lease. Written to the Lease in whole seconds.</summary>
    public TimeSpan LeaseDuration { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>How long the leader keeps retrying a failing renewal before it steps down.</summary>
    public TimeSpan RenewDeadline { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>The wait between two attempts to acquire or renew.</summary>
    public TimeSpan RetryPeriod { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>On cancellation the leader gives the lease up at once instead of letting it expire.</summary>
    public bool ReleaseOnCancel { get; init; } = true;
}

/// <summary>
/// Lease-based leader election after client-go's: acquire by writing our identity when the lease is free or has not been
/// renewed for its duration, renew every retry period, step down when a renewal has not succeeded within the renew
/// deadline (a conflict means someone else wrote the lease). Optimistic concurrency on the Lease's resourceVersion keeps
/// two candidates from both winning. Like client-go it relies on local clocks, not fencing.
/// </summary>
public sealed class LeaderElector
{
    private const double JitterFactor = 1.2;
    private readonly KubernetesClient client;
    private readonly LeaderElectionOptions options;
    private readonly TimeProvider time;
    private readonly ILogger logger;
    private readonly Lock gate = new();
    private V1Lease? observedLease;
    private long observedTimestamp;
    private string? reportedLeader;
    private volatile bool leading;

    public LeaderElector(KubernetesClient client, LeaderElectionOptions options, TimeProvider? timeProvider = null)
    {
        if (options.LeaseDuration <= options.RenewDeadline)
        {
            throw new ArgumentException("LeaseDuration must be longer than RenewDeadline.", nameof(options));
        }

        if (options.RenewDeadline <= options.RetryPeriod * JitterFactor)
        {
            throw new ArgumentException($"RenewDeadline must be longer than RetryPeriod x {JitterFactor}.", nameof(options));
        }

        if (options.LeaseDuration < TimeSpan.FromSeconds(1))
        {
            throw new ArgumentException("LeaseDuration is written in whole seconds: it must be at least 1 s.", nameof(options));
        }

        this.client = client;
        this.options = options;
        time = timeProvider ?? TimeProvider.System;
        logger = client.LoggerFactory.CreateLogger<LeaderElector>();
    }

    /// <summary>Raised when this candidate becomes leader; start the leader's work.</summary>
    public event Action? OnStartedLeading;

    /// <summary>Raised when this candidate stops leading (lost the lease or cancelled); stop the leader's work before returning.</summary>
    public event Action? OnStoppedLeading;

    /// <summary>Raised when the observed leader changes, with its identity (empty when the lease was released).</summary>
    public event Action<string>? OnNewLeader;

    public string Identity => options.Identity;

    /// <summary>True between OnStartedLeading and OnStoppedLeading.</summary>
    public bool IsLeader => leading;

    /// <summary>The holder last seen on the lease.</summary>
    public string? Leader
    {
        get
        {
            lock (gate)
            {
                return observedLease?.Spec?.HolderIdentity;
            }
        }
    }

    /// <summary>Waits to become leader, leads until the lease is lost or <paramref name="cancellationToken"/> is cancelled, then returns.</summary>
    public async Task RunUntilLeadershipLostAsync(CancellationToken cancellationToken = default)
    {
        if (!await AcquireAsync(cancellationToken).ConfigureAwait(false))
        {
            return;
        }

        leading = true;
        logger.LogInformation("{Identity} became leader of lease {Namespace}/{Lease}", options.Identity, options.LeaseNamespace, options.LeaseName);
        try
        {
            OnStartedLeading?.Invoke();
            await RenewAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            leading = false;
            logger.LogInformation("{Identity} stopped leading lease {Namespace}/{Lease}", options.Identity, options.LeaseNamespace, options.LeaseName);

            // Stop the leader's work first, then free the lease: the next leader never overlaps with us.
            OnStoppedLeading?.Invoke();
            if (options.ReleaseOnCancel && cancellationToken.IsCancellationRequested)
            {
                await ReleaseAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>Runs for election again after each lost leadership, until cancelled.</summary>
    public async Task RunAndTryToHoldLeadershipForeverAsync(CancellationToken cancellationToken = default)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            await RunUntilLeadershipLostAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task<bool> AcquireAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            bool acquired;
            try
            {
                acquired = await TryAcquireOrRenewAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return false;
            }

            ReportTransition();
            if (acquired)
            {
                return true;
            }

            if (!await DelayAsync(options.RetryPeriod * (1 + (Random.Shared.NextDouble() * (JitterFactor - 1))), cancellationToken).ConfigureAwait(false))
            {
                return false;
            }
        }

        return false;
    }

    private async Task RenewAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            deadline.CancelAfter(options.RenewDeadline);
            var renewed = false;
            while (!deadline.IsCancellationRequested)
            {
                try
                {
                    renewed = await TryAcquireOrRenewAsync(deadline.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (deadline.IsCancellationRequested)
                {
                    break;
                }

                if (renewed || !await DelayAsync(options.RetryPeriod, deadline.Token).ConfigureAwait(false))
                {
                    break;
                }
            }

            ReportTransition();
            if (!renewed)
            {
                if (!cancellationToken.IsCancellationRequested)
                {
                    logger.LogWarning("{Identity} could not renew lease {Namespace}/{Lease} within {RenewDeadline}", options.Identity, options.LeaseNamespace, options.LeaseName, options.RenewDeadline);
                }

                return;
            }

            if (!await DelayAsync(options.RetryPeriod, cancellationToken).ConfigureAwait(false))
            {
                return;
            }
        }
    }

    private async Task<bool> TryAcquireOrRenewAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var desired = new V1LeaseSpec
        {
            HolderIdentity = options.Identity,
            LeaseDurationSeconds = (int)Math.Ceiling(options.LeaseDuration.TotalSeconds),
            AcquireTime = now,
            RenewTime = now,
            LeaseTransitions = 0,
        };

        // 1. Fast path: the leader updates the lease it wrote last, assuming nobody else has.
        var observed = Observed();
        if (observed is not null && HeldByUs(observed) && IsObservedLeaseValid())
        {
            desired.AcquireTime = observed.Spec?.AcquireTime;
            desired.LeaseTransitions = observed.Spec?.LeaseTransitions;
            if (await TryWriteAsync(observed, desired, cancellationToken).ConfigureAwait(false))
            {
                return true;
            }
        }

        // 2. Read the lease, or create it.
        V1Lease? current;
        try
        {
            current = await client.GetAsync<V1Lease>(options.LeaseNamespace, options.LeaseName, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            logger.LogWarning("{Identity} could not read lease {Namespace}/{Lease}: {Message}", options.Identity, options.LeaseNamespace, options.LeaseName, e.Message);
            return false;
        }

        if (current is null)
        {
            try
            {
                var created = await client.CreateAsync(
                    new V1Lease { Metadata = new V1ObjectMeta { Name = options.LeaseName, NamespaceProperty = options.LeaseNamespace }, Spec = desired },
                    cancellationToken).ConfigureAwait(false);
                SetObserved(created);
                return true;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                logger.LogDebug("{Identity} could not create lease {Namespace}/{Lease}: {Message}", options.Identity, options.LeaseNamespace, options.LeaseName, e.Message);
                return false;
            }
        }

        // 3. A lease someone else holds and renewed within its duration (as we measure it) is not ours to take.
        if (observed?.Metadata.ResourceVersion != current.Metadata.ResourceVersion)
        {
            SetObserved(current);
        }

        if (!string.IsNullOrEmpty(current.Spec?.HolderIdentity) && IsObservedLeaseValid() && !HeldByUs(current))
        {
            return false;
        }

        // 4. Take it over, or renew it through the slow path.
        if (HeldByUs(current))
        {
            desired.AcquireTime = current.Spec?.AcquireTime;
            desired.LeaseTransitions = current.Spec?.LeaseTransitions;
        }
        else
        {
            desired.LeaseTransitions = (current.Spec?.LeaseTransitions ?? 0) + 1;
        }

        return await TryWriteAsync(current, desired, cancellationToken).ConfigureAwait(false);
    }

    private async Task<bool> TryWriteAsync(V1Lease basis, V1LeaseSpec spec, CancellationToken cancellationToken)
    {
        var lease = new V1Lease
        {
            Metadata = new V1ObjectMeta
            {
                Name = options.LeaseName,
                NamespaceProperty = options.LeaseNamespace,
                ResourceVersion = basis.Metadata.ResourceVersion,
                Labels = basis.Metadata.Labels,
                Annotations = basis.Metadata.Annotations,
            },
            Spec = spec,
        };
        try
        {
            SetObserved(await client.ReplaceAsync(lease, cancellationToken).ConfigureAwait(false));
            return true;
        }
        catch (KubernetesConflictException)
        {
            logger.LogDebug("{Identity} lost a race for lease {Namespace}/{Lease}: it changed since version {ResourceVersion}", options.Identity, options.LeaseNamespace, options.LeaseName, basis.Metadata.ResourceVersion);
            return false;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            logger.LogWarning("{Identity} could not write lease {Namespace}/{Lease}: {Message}", options.Identity, options.LeaseNamespace, options.LeaseName, e.Message);
            return false;
        }
    }

    private async Task ReleaseAsync()
    {
        using var timeout = new CancellationTokenSource(options.RenewDeadline);
        try
        {
            // Twice: a renewal cancelled in flight may have been written, leaving our observed version stale.
            for (var attempt = 0; attempt < 2; attempt++)
            {
                var observed = attempt == 0
                    ? Observed()
                    : await client.GetAsync<V1Lease>(options.LeaseNamespace, options.LeaseName, timeout.Token).ConfigureAwait(false);
                if (observed is null || !HeldByUs(observed))
                {
                    return;
                }

                var now = time.GetUtcNow();
                var released = new V1LeaseSpec
                {
                    HolderIdentity = null,
                    LeaseDurationSeconds = 1,
                    AcquireTime = now,
                    RenewTime = now,
                    LeaseTransitions = observed.Spec?.LeaseTransitions,
                };
                if (await TryWriteAsync(observed, released, timeout.Token).ConfigureAwait(false))
                {
                    return;
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or KubernetesApiException or HttpRequestException)
        {
            logger.LogWarning("{Identity} could not release lease {Namespace}/{Lease} ({Message}); it will expire", options.Identity, options.LeaseNamespace, options.LeaseName, e.Message);
        }
    }

    private bool HeldByUs(V1Lease lease) => lease.Spec?.HolderIdentity == options.Identity;

    private V1Lease? Observed()
    {
        lock (gate)
        {
            return observedLease;
        }
    }

    private void SetObserved(V1Lease lease)
    {
        lock (gate)
        {
            observedLease = lease;
            observedTimestamp = time.GetTimestamp();
        }
    }

    /// <summary>Measured from when we last saw the lease change, on our own clock: immune to clock skew between candidates.</summary>
    private bool IsObservedLeaseValid()
    {
        lock (gate)
        {
            var seconds = observedLease?.Spec?.LeaseDurationSeconds ?? 0;
            return time.GetElapsedTime(observedTimestamp) < TimeSpan.FromSeconds(seconds);
        }
    }

    private void ReportTransition()
    {
        var leader = Leader ?? string.Empty;
        if (leader == reportedLeader)
        {
            return;
        }

        reportedLeader = leader;
        OnNewLeader?.Invoke(leader);
    }

    private async Task<bool> DelayAsync(TimeSpan delay, CancellationToken cancellationToken)
    {
        try
        {
            await Task.Delay(delay, time, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }
}
