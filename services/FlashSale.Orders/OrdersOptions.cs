using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace FlashSale.Orders;

public sealed class OrdersOptions
{
    /// <summary>The Kubernetes namespace of the sales this service sells (the first part of the Redis hash tag).</summary>
    public string Namespace { get; set; } = "default";
    /// <summary>redis (default), postgres-row-lock or postgres-optimistic.</summary>
    public string StockGate { get; set; } = Gates.StockGates.Redis;
    public TimeSpan IdempotencyTtl { get; set; } = TimeSpan.FromHours(24);
    public int MaxQuantity { get; set; } = 100;
    public int MaxPageSize { get; set; } = 100;
    public RelayOptions Relay { get; set; } = new();
    public Gates.ReserveBatchOptions ReserveBatch { get; set; } = new();
    public PaymentOptions Payment { get; set; } = new();
    public ExpiryOptions Expiry { get; set; } = new();
}

/// <summary>Orders:Payment: the wallet debit in the users service and its resilience pipeline.</summary>
public sealed class PaymentOptions
{
    /// <summary>Base address of the users service (e.g. http://users:8080); payments answer 503 while it is not set.</summary>
    public string? UsersUrl { get; set; }
    /// <summary>Bound on the whole debit call, retries included: no payment request waits longer on the users service.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(5);
    public TimeSpan AttemptTimeout { get; set; } = TimeSpan.FromSeconds(2);
    /// <summary>Retries of the (idempotent) debit after a transient failure, with exponential backoff and jitter.</summary>
    public int MaxRetries { get; set; } = 2;
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromMilliseconds(200);
    public double BreakerFailureRatio { get; set; } = 0.5;
    public int BreakerMinimumThroughput { get; set; } = 5;
    public TimeSpan BreakerSamplingDuration { get; set; } = TimeSpan.FromSeconds(10);
    public TimeSpan BreakDuration { get; set; } = TimeSpan.FromSeconds(5);
    /// <summary>
    /// A payment attempt holds off expiry of its order this long (longer than <see cref="Timeout"/>), so that an order is
    /// never expired while its debit may be in flight.
    /// </summary>
    public TimeSpan Lease { get; set; } = TimeSpan.FromSeconds(30);
}

/// <summary>Orders:Expiry: unpaid orders return their units to stock.</summary>
public sealed class ExpiryOptions
{
    public bool Enabled { get; set; } = true;
    /// <summary>Sales whose orders.expiry queue this replica consumes (defaults to RabbitMq:Sale when set); the sweep covers all.</summary>
    public string[] Sales { get; set; } = [];
    /// <summary>The PostgreSQL backstop: due orders and unrecorded releases are handled at this interval.</summary>
    public TimeSpan SweepInterval { get; set; } = TimeSpan.FromSeconds(5);
    public int BatchSize { get; set; } = 500;
}

public sealed class RelayOptions
{
    public bool Enabled { get; set; } = true;
    /// <summary>Publish order events to RabbitMQ (off only for benchmarks that measure the database drain alone).</summary>
    public bool Publish { get; set; } = true;
    /// <summary>Batches of one sale written to PostgreSQL (and published) at once; the stream is trimmed behind them in order.</summary>
    public int Workers { get; set; } = 2;
    public int BatchSize { get; set; } = 1000;
    /// <summary>A relay that has caught up (its last read was not a full batch) reads again this long after that read.</summary>
    public TimeSpan IdleDelay { get; set; } = TimeSpan.FromMilliseconds(20);
    /// <summary>
    /// A replica relays a sale while it holds the sale's lease, renewed every third of this; a replica that dies holding it
    /// keeps the sale's entries waiting this long at most before another replica takes over.
    /// </summary>
    public TimeSpan LeaseTime { get; set; } = TimeSpan.FromSeconds(10);
}

public sealed class OrdersMetrics
{
    public const string MeterName = "FlashSale.Orders";
    readonly Counter<long> _answers;
    readonly Counter<long> _relayed;
    readonly Histogram<double> _relayInsert;
    readonly Counter<long> _outboxParked;
    readonly Histogram<int> _reserveBatch;
    long _expiredUnpaid, _expiredLapsed;
    readonly ConcurrentDictionary<string, long> _unitsReturned = new(StringComparer.Ordinal);
    int _breakerState;
    volatile IReadOnlyList<OrderStreamSample> _streams = [];

    public OrdersMetrics(IMeterFactory meters)
    {
        var meter = meters.Create(MeterName);
        _answers = meter.CreateCounter<long>("flashsale.orders.answers", description: "Order requests answered, by gate and outcome reason");
        _relayed = meter.CreateCounter<long>("flashsale.orders.relayed", description: "Orders moved from the Redis stream into PostgreSQL");
        _relayInsert = meter.CreateHistogram<double>("flashsale.orders.relay.insert.duration", unit: "s", description: "Time to write one relay batch into PostgreSQL");
        _outboxParked = meter.CreateCounter<long>("flashsale.orders.outbox.parked",
            description: "Outbox events parked because their exchange no longer exists (kept in orders.outbox with parked_at and last_error); alert on any increase");
        _reserveBatch = meter.CreateHistogram<int>("flashsale.orders.reserve.batch.size", unit: "{order}",
            description: "Orders decided by one reserve.lua call (1 while the replica is idle; more when orders queued behind calls in flight)",
            advice: new InstrumentAdvice<int> { HistogramBucketBoundaries = [1, 2, 4, 8, 16, 32, 64, 128, 256] });
        // Observable, so that both outcomes are exported (at 0) from the start: a rate over them needs no first expiry.
        meter.CreateObservableCounter("flashsale.orders.expired", () => new[]
            {
                new Measurement<long>(Interlocked.Read(ref _expiredUnpaid), new KeyValuePair<string, object?>("outcome", "unpaid")),
                new Measurement<long>(Interlocked.Read(ref _expiredLapsed), new KeyValuePair<string, object?>("outcome", "payment_lapsed")),
            },
            description: "Orders expired by this replica: unpaid (never paid), payment_lapsed (a payment attempt's lease lapsed unfinished)");
        meter.CreateObservableCounter("flashsale.orders.units_returned",
            () => _unitsReturned.Select(u => new Measurement<long>(u.Value, new KeyValuePair<string, object?>("sku", u.Key))),
            description: "Units of expired orders returned to stock by this replica, by sku");
        meter.CreateObservableGauge("flashsale.orders.payment_breaker.state", () => Volatile.Read(ref _breakerState),
            description: "The circuit breaker in front of the users service's wallet: 0 closed, 1 half-open, 2 open");
        meter.CreateObservableGauge("flashsale.orders.outbox.backlog",
            () => _streams.Select(s => new Measurement<long>(s.Length, new KeyValuePair<string, object?>("sale", s.Sale))),
            description: "Orders in the sale's order stream not yet relayed to PostgreSQL (sampled every few seconds)");
        meter.CreateObservableGauge("flashsale.orders.outbox.oldest_age", unit: "s",
            observeValues: () => _streams.Select(s => new Measurement<double>(s.OldestAge.TotalSeconds, new KeyValuePair<string, object?>("sale", s.Sale))),
            description: "Age of the oldest order in the sale's order stream, 0 when it is empty (sampled every few seconds)");
    }

    public void ReserveBatch(int size) => _reserveBatch.Record(size);

    public void Answer(string gate, string outcome) => _answers.Add(1, new("gate", gate), new("outcome", outcome));

    public void OutboxParked(string exchange, int count) => _outboxParked.Add(count, new KeyValuePair<string, object?>("exchange", exchange));

    public void RelayInsert(int count, TimeSpan took)
    {
        _relayed.Add(count);
        _relayInsert.Record(took.TotalSeconds);
    }

    public void Expired(bool afterPaymentAttempt) => Interlocked.Increment(ref afterPaymentAttempt ? ref _expiredLapsed : ref _expiredUnpaid);

    /// <summary>The sku is an expired order's, which its gate accepted only as a product of the sale.</summary>
    public void UnitsReturned(string sku, int units) => _unitsReturned.AddOrUpdate(sku, units, (_, total) => total + units);

    public void PaymentBreaker(BreakerState state) => Volatile.Write(ref _breakerState, (int)state);

    /// <summary>The latest sample of every sale's order stream (sales no longer listed drop out).</summary>
    public void OrderStreams(IReadOnlyList<OrderStreamSample> samples) => _streams = samples;
}

public enum BreakerState { Closed = 0, HalfOpen = 1, Open = 2 }

public sealed record OrderStreamSample(string Sale, long Length, TimeSpan OldestAge);
