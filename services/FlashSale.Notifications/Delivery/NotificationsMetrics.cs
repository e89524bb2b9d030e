using System.Diagnostics.Metrics;

namespace FlashSale.Notifications.Delivery;

public enum DeliveryOutcome { Sent, Retry, Failed }

/// <summary>
/// Delivery attempts by outcome, and the pending notifications of the sale this deployment serves (RabbitMq:Namespace and
/// RabbitMq:Sale), counted in PostgreSQL every <see cref="Interval"/> in the background so that a scrape reads memory.
/// </summary>
public sealed class NotificationsMetrics : BackgroundService
{
    public const string MeterName = "FlashSale.Notifications";
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(5);
    readonly long[] _deliveries = new long[3];
    readonly NpgsqlDataSource _db;
    readonly ILogger<NotificationsMetrics> _logger;
    readonly string _namespace;
    readonly string? _sale;
    long _pending = -1; // until the first count

    public NotificationsMetrics(NpgsqlDataSource db, IConfiguration configuration, IMeterFactory meters, ILogger<NotificationsMetrics> logger)
    {
        _db = db;
        _logger = logger;
        _namespace = configuration["RabbitMq:Namespace"] ?? "default";
        _sale = configuration["RabbitMq:Sale"] is { Length: > 0 } sale ? sale : null;
        var meter = meters.Create(MeterName);
        // Observable, so that every outcome is exported (at 0) from the start: the failure ratio needs no first failure.
        meter.CreateObservableCounter("flashsale.notifications.deliveries", () => new[]
            {
                Delivery(DeliveryOutcome.Sent, "sent"), Delivery(DeliveryOutcome.Retry, "retry"), Delivery(DeliveryOutcome.Failed, "failed"),
            },
            description: "Delivery attempts: sent, retry (failed, tried again later), failed (refused for good after MaxAttempts)");
        meter.CreateObservableGauge("flashsale.notifications.pending", () => Interlocked.Read(ref _pending) is var p and >= 0 && _sale is not null
                ? [new Measurement<long>(p, new KeyValuePair<string, object?>("sale", _sale))]
                : Array.Empty<Measurement<long>>(),
            description: "Notifications of the sale not yet sent (pending, retries included; sampled every few seconds)");
    }

    Measurement<long> Delivery(DeliveryOutcome outcome, string label) =>
        new(Interlocked.Read(ref _deliveries[(int)outcome]), new KeyValuePair<string, object?>("outcome", label));

    public void Delivered(DeliveryOutcome outcome) => Interlocked.Increment(ref _deliveries[(int)outcome]);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (_sale is null) return;
        await Task.Yield();
        using var timer = new PeriodicTimer(Interval);
        try
        {
            do
            {
                try
                {
                    await using var cmd = _db.CreateCommand(
                        "SELECT count(*) FROM notifications.notifications WHERE status = 'pending' AND namespace = @ns AND sale = @sale");
                    cmd.Parameters.AddWithValue("ns", _namespace);
                    cmd.Parameters.AddWithValue("sale", _sale);
                    Interlocked.Exchange(ref _pending, (long)(await cmd.ExecuteScalarAsync(stoppingToken))!);
                }
                catch (Exception e) when (!stoppingToken.IsCancellationRequested)
                {
                    _logger.LogDebug(e, "Could not count the pending notifications of sale {Sale}; keeping the last count", _sale);
                }
            }
            while (await timer.WaitForNextTickAsync(stoppingToken));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested) { }
    }
}
