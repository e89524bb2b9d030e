using System.Net;
using k8s;
using k8s.Autorest;
using k8s.LeaderElection;
using k8s.LeaderElection.ResourceLock;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace FlashSale.Operator.Kubernetes;

/// <summary>Leader election settings; the defaults are controller-runtime's (15 s lease, 10 s renew deadline, 2 s retry).</summary>
public sealed class LeaseElectionOptions
{
    public required string LeaseName { get; init; }

    public required string LeaseNamespace { get; init; }

    /// <summary>Unique per candidate, usually the pod name.</summary>
    public required string Identity { get; init; }

    /// <summary>How long followers wait, from the last change they saw, before taking the lease. Written in whole seconds.</summary>
    public TimeSpan LeaseDuration { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>How long the leader keeps retrying a failing renewal before it steps down.</summary>
    public TimeSpan RenewDeadline { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>The wait between two attempts to acquire or renew.</summary>
    public TimeSpan RetryPeriod { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>On cancellation the leader gives the lease up at once instead of letting it expire.</summary>
    public bool ReleaseOnCancel { get; init; } = true;
}

/// <summary>
/// The official client's leader elector on a coordination.k8s.io Lease, run for election until cancelled, with what it
/// lacks: a leader that is cancelled stops its work (<see cref="OnStoppedLeading"/> returns first), then frees the Lease,
/// so the next leader starts at once and never overlaps with it.
/// </summary>
public sealed class LeaseElection
{
    readonly IKubernetes _client;
    readonly LeaseElectionOptions _options;
    readonly ILogger _logger;
    volatile bool _leading;

    public LeaseElection(IKubernetes client, LeaseElectionOptions options, ILogger? logger = null)
    {
        if (options.LeaseDuration <= options.RenewDeadline || options.RenewDeadline <= options.RetryPeriod)
        {
            throw new ArgumentException("LeaseDuration must be longer than RenewDeadline, and RenewDeadline longer than RetryPeriod.", nameof(options));
        }

        if (options.LeaseDuration < TimeSpan.FromSeconds(1))
        {
            throw new ArgumentException("LeaseDuration is written in whole seconds: it must be at least 1 s.", nameof(options));
        }

        _client = client;
        _options = options;
        _logger = logger ?? NullLogger.Instance;
    }

    /// <summary>Raised when this candidate becomes leader; start the leader's work.</summary>
    public event Action? OnStartedLeading;

    /// <summary>Raised when this candidate stops leading (lost the lease or cancelled); stop the leader's work before returning.</summary>
    public event Action? OnStoppedLeading;

    public string Identity => _options.Identity;

    /// <summary>True between <see cref="OnStartedLeading"/> and <see cref="OnStoppedLeading"/>.</summary>
    public bool IsLeader => _leading;

    /// <summary>Runs for election again after each lost leadership, until cancelled; then releases the Lease if it holds it.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var config = new LeaderElectionConfig(new LeaseLock(_client, _options.LeaseNamespace, _options.LeaseName, _options.Identity))
        {
            LeaseDuration = _options.LeaseDuration,
            RenewDeadline = _options.RenewDeadline,
            RetryPeriod = _options.RetryPeriod,
        };
        using var elector = new LeaderElector(config);
        elector.OnStartedLeading += () =>
        {
            _leading = true;
            _logger.LogInformation("{Identity} became leader of lease {Namespace}/{Lease}", _options.Identity, _options.LeaseNamespace, _options.LeaseName);
            OnStartedLeading?.Invoke();
        };
        elector.OnStoppedLeading += () =>
        {
            _logger.LogInformation("{Identity} stopped leading lease {Namespace}/{Lease}", _options.Identity, _options.LeaseNamespace, _options.LeaseName);
            try
            {
                OnStoppedLeading?.Invoke();
            }
            finally
            {
                _leading = false;
            }
        };
        elector.OnError += e => _logger.LogDebug(e, "{Identity} could not acquire or renew lease {Namespace}/{Lease}: {Message}", _options.Identity, _options.LeaseNamespace, _options.LeaseName, e.Message);

        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await elector.RunUntilLeadershipLostAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                // Stopping.
            }
        }

        if (_options.ReleaseOnCancel)
        {
            await ReleaseAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Writes an empty holder with a 1 s duration, as client-go's release does (the official elector would try to create a
    /// Lease whose holder is missing, and fail on this existing one). Compare-and-swap on the resourceVersion: retried when a
    /// renewal cancelled in flight landed first.
    /// </summary>
    async Task ReleaseAsync()
    {
        using var timeout = new CancellationTokenSource(_options.RenewDeadline);
        try
        {
            for (var attempt = 0; attempt < 3; attempt++)
            {
                var lease = await _client.CoordinationV1.ReadNamespacedLeaseAsync(_options.LeaseName, _options.LeaseNamespace, cancellationToken: timeout.Token).OrNullIfNotFound().ConfigureAwait(false);
                if (lease?.Spec is null || lease.Spec.HolderIdentity != _options.Identity)
                {
                    return;
                }

                var now = DateTime.UtcNow;
                lease.Spec.HolderIdentity = "";
                lease.Spec.LeaseDurationSeconds = 1;
                lease.Spec.AcquireTime = now;
                lease.Spec.RenewTime = now;
                try
                {
                    await _client.CoordinationV1.ReplaceNamespacedLeaseAsync(lease, _options.LeaseName, _options.LeaseNamespace, cancellationToken: timeout.Token).ConfigureAwait(false);
                    _logger.LogInformation("{Identity} released lease {Namespace}/{Lease}", _options.Identity, _options.LeaseNamespace, _options.LeaseName);
                    return;
                }
                catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.Conflict)
                {
                    // Changed since we read it: read it again.
                }
            }
        }
        catch (Exception e) when (e is HttpOperationException or HttpRequestException or OperationCanceledException)
        {
            _logger.LogWarning("{Identity} could not release lease {Namespace}/{Lease} ({Message}); it will expire", _options.Identity, _options.LeaseNamespace, _options.LeaseName, e.Message);
        }
    }
}
