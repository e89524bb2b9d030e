using System.Diagnostics;
using FlashSale.Messaging;
using FlashSale.Sales;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;
using StackExchange.Redis;

namespace FlashSale.Orders.Relay;

/// <summary>
/// The relay's own Redis connection: a batch read of up to a thousand stream entries is a large reply, and on the shared
/// multiplexer every order's EVALSHA answer would queue behind it (one socket, read in order). Disposed with the host.
/// </summary>
public sealed class RelayRedis(IConfiguration configuration) : IDisposable
{
    readonly Lazy<SaleStore> _store = new(() => new SaleStore(RedisRegistration.Connect(configuration, clientName: "orders-relay")));

    /// <summary>Connects on first use (from the relay's workers, not at host start; not at all when the relay is off).</summary>
    public SaleStore Store => _store.Value;

    public void Dispose()
    {
        if (_store.IsValueCreated) _store.Value.Redis.Dispose();
    }
}

/// <summary>
/// Drains each sale's order stream (the outbox of the Redis gate) into PostgreSQL and RabbitMQ:
/// read a batch through the consumer group -> one INSERT ... ON CONFLICT DO NOTHING -> publish order.reserved with
/// confirms -> XACK + XDEL. Every step is idempotent, so entries left pending by a crash anywhere (this replica or a dead
/// one) are claimed again with XAUTOCLAIM and yield each order exactly once in PostgreSQL. Runs safely in every replica.
/// </summary>
public sealed class OrderStreamRelay(
    RelayRedis relayRedis,
    SaleCatalog catalog,
    NpgsqlDataSource db,
    IEventPublisher publisher,
    IOptions<OrdersOptions> options,
    OrdersMetrics metrics,
    ILogger<OrderStreamRelay> logger) : BackgroundService
{
    public const string Group = "relay";
    static readonly RedisScript AckScript = new("redis.call('XACK', KEYS[1], ARGV[1], unpack(ARGV, 2)); return redis.call('XDEL', KEYS[1], unpack(ARGV, 2))");

    SaleStore Store => relayRedis.Store;
    IDatabase Redis => relayRedis.Store.Redis.GetDatabase();
    readonly HashSet<string> _groups = [];
    readonly string _consumer = $"{Environment.MachineName}-{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..6]}";

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var o = options.Value.Relay;
        if (!o.Enabled) return;
        await Task.Yield();
        var workers = Enumerable.Range(0, Math.Max(1, o.Workers)).Select(i => RunWorkerAsync(i, stoppingToken)).ToArray();
        await Task.WhenAll(workers);
    }

    async Task RunWorkerAsync(int worker, CancellationToken ct)
    {
        var o = options.Value.Relay;
        var consumer = $"{_consumer}-{worker}";
        var ns = options.Value.Namespace;
        IReadOnlyList<string> sales = [];
        var salesAt = 0L;
        var lastClaim = 0L;
        var failures = 0;
        var backoff = new Dictionary<string, (int Failures, long RetryAt)>();
        while (!ct.IsCancellationRequested)
        {
            try
            {
                if (Stopwatch.GetElapsedTime(salesAt) > TimeSpan.FromSeconds(2) || sales.Count == 0)
                {
                    sales = await Store.ListSalesAsync(ns);
                    salesAt = Stopwatch.GetTimestamp();
                }
                var moved = 0;
                var claim = Stopwatch.GetElapsedTime(lastClaim) > o.ClaimInterval;
                foreach (var sale in sales)
                {
                    // One sale failing (e.g. its exchange is missing) must not hold up the others: it backs off on its own.
                    if (backoff.TryGetValue(sale, out var b) && Stopwatch.GetTimestamp() < b.RetryAt) continue;
                    var keys = new SaleKeys(ns, sale);
                    try
                    {
                        await EnsureGroupAsync(keys);
                        var entries = await Redis.StreamReadGroupAsync(keys.Stream, Group, consumer, StreamPosition.NewMessages, o.BatchSize);
                        if (entries.Length > 0) moved += await ProcessAsync(ns, sale, keys, entries, ct);
                        if (claim)
                        {
                            var claimed = await Redis.StreamAutoClaimAsync(keys.Stream, Group, consumer, (long)o.ClaimIdle.TotalMilliseconds, "0-0", o.BatchSize);
                            if (claimed.ClaimedEntries.Length > 0)
                            {
                                logger.LogInformation("Claimed {Count} pending order entries of sale {Sale}", claimed.ClaimedEntries.Length, sale);
                                moved += await ProcessAsync(ns, sale, keys, claimed.ClaimedEntries, ct);
                            }
                        }
                        backoff.Remove(sale);
                    }
                    catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
                    {
                        var saleFailures = b.Failures + 1;
                        var delay = Backoff.After(saleFailures);
                        backoff[sale] = (saleFailures, Stopwatch.GetTimestamp() + (long)(delay.TotalSeconds * Stopwatch.Frequency));
                        lock (_groups) _groups.Remove(keys.Tag);
                        logger.LogWarning(e, "Relaying sale {Sale} failed ({Failures} in a row); the other sales go on, this one again in {Delay}",
                            sale, saleFailures, delay);
                    }
                }
                if (claim) lastClaim = Stopwatch.GetTimestamp();
                failures = 0;
                if (moved == 0) await Task.Delay(o.IdleDelay, ct);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested) { break; }
            catch (Exception e)
            {
                failures++;
                var delay = Backoff.After(failures);
                logger.LogWarning(e, "Order relay worker {Worker} failed ({Failures} in a row); retrying in {Delay}", worker, failures, delay);
                lock (_groups) _groups.Clear();
                try { await Task.Delay(delay, ct); } catch (OperationCanceledException) { break; }
            }
        }
    }

    async Task EnsureGroupAsync(SaleKeys keys)
    {
        lock (_groups) if (_groups.Contains(keys.Tag)) return;
        try { await Redis.StreamCreateConsumerGroupAsync(keys.Stream, Group, "0-0", createStream: true); }
        catch (RedisServerException e) when (e.Message.Contains("BUSYGROUP")) { }
        lock (_groups) _groups.Add(keys.Tag);
    }

    async Task<int> ProcessAsync(string ns, string sale, SaleKeys keys, StreamEntry[] entries, CancellationToken ct)
    {
        var state = await catalog.GetAsync(ns, sale);
        var timeout = state?.PaymentTimeout ?? TimeSpan.FromMinutes(15);
        var currency = state?.Currency ?? "EUR";
        var orders = new List<OrderEvent>(entries.Length);
        var ids = new List<RedisValue>(entries.Length + 1) { Group };
        var keysOf = new List<string>(entries.Length);
        foreach (var entry in entries)
        {
            ids.Add(entry.Id);
            if (entry.IsNull) continue; // deleted while pending
            if (!OrderStreamEntry.TryParse(entry, out var e))
            {
                logger.LogError("Malformed order stream entry {EntryId} of sale {Sale}; acknowledged and skipped", entry.Id, sale);
                continue;
            }
            orders.Add(new OrderEvent(OrderEventTypes.EventId(OrderEventTypes.Reserved, e.OrderId), OrderEventTypes.Reserved, e.OrderId, ns, sale,
                e.UserId, e.Sku, e.Quantity, e.UnitPrice, currency, e.ReservedAt, e.ReservedAt + timeout, e.BuyerEmail));
            keysOf.Add(e.IdempotencyKey);
        }
        if (orders.Count > 0)
        {
            var started = Stopwatch.GetTimestamp();
            await InsertAsync(orders, keysOf, ct);
            metrics.RelayInsert(orders.Count, Stopwatch.GetElapsedTime(started));
            if (options.Value.Relay.Publish)
            {
                var exchange = new SaleTopology(ns, sale).Exchange;
                await publisher.PublishBatchAsync(exchange,
                    orders.Select(o => (o.Type, new OutgoingEvent(o.EventId, o.Type, o.ToJson()))).ToList(), ct);
            }
        }
        await AckScript.EvaluateAsync(Redis, [keys.Stream], [.. ids]);
        return entries.Length;
    }

    async Task InsertAsync(List<OrderEvent> orders, List<string> idempotencyKeys, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand("""
            INSERT INTO orders.orders (order_id, namespace, sale, user_id, buyer_email, sku, quantity, unit_price, currency, idempotency_key, gate, created_at, payment_due_at)
            SELECT id, @ns, @sale, user_id, email, sku, qty, price, @currency, key, 'redis', created, due
            FROM unnest(@ids, @users, @emails, @skus, @qtys, @prices, @keys, @created, @due) AS t(id, user_id, email, sku, qty, price, key, created, due)
            ON CONFLICT (order_id) DO NOTHING
            """);
        cmd.Parameters.AddWithValue("ns", orders[0].Namespace);
        cmd.Parameters.AddWithValue("sale", orders[0].Sale);
        cmd.Parameters.AddWithValue("currency", orders[0].Currency);
        cmd.Parameters.AddWithValue("ids", orders.Select(o => o.OrderId).ToArray());
        cmd.Parameters.AddWithValue("users", orders.Select(o => o.UserId).ToArray());
        cmd.Parameters.AddWithValue("emails", orders.Select(o => o.BuyerEmail ?? "").ToArray());
        cmd.Parameters.AddWithValue("skus", orders.Select(o => o.Sku).ToArray());
        cmd.Parameters.AddWithValue("qtys", orders.Select(o => o.Quantity).ToArray());
        cmd.Parameters.AddWithValue("prices", orders.Select(o => o.UnitPrice).ToArray());
        cmd.Parameters.AddWithValue("keys", idempotencyKeys.ToArray());
        cmd.Parameters.Add(new NpgsqlParameter("created", NpgsqlDbType.Array | NpgsqlDbType.TimestampTz) { Value = orders.Select(o => o.OccurredAt.UtcDateTime).ToArray() });
        cmd.Parameters.Add(new NpgsqlParameter("due", NpgsqlDbType.Array | NpgsqlDbType.TimestampTz) { Value = orders.Select(o => o.PaymentDueAt!.Value.UtcDateTime).ToArray() });
        await cmd.ExecuteNonQueryAsync(ct);
    }
}
