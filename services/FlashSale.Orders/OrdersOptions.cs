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
    }

    public void ReserveBatch(int size) => _reserveBatch.Record(size);

    public void Answer(string gate, string outcome) => _answers.Add(1, new("gate", gate), new("outcome", outcome));

    public void OutboxParked(string exchange, int count) => _outboxParked.Add(count, new KeyValuePair<string, object?>("exchange", exchange));

    public void RelayInsert(int count, TimeSpan took)
    {
        _relayed.Add(count);
        _relayInsert.Record(took.TotalSeconds);
    }
}
