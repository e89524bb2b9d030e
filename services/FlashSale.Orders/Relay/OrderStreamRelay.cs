using System.Diagnostics;
using System.Globalization;
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
/// Drains each sale's order stream (the outbox of the Redis gate) into PostgreSQL and RabbitMQ. The stream holds exactly the
/// orders not yet relayed: read a batch from its head (XRANGE) -> one INSERT ... ON CONFLICT DO NOTHING -> publish
/// order.reserved with confirms -> XTRIM MINID (Redis 6.2+), which removes the batch and everything before it.
/// <para>
/// One replica relays a sale at a time, the one holding the sale's lease (a Redis key with a TTL, renewed while it works);
/// a replica that dies holding it leaves the sale's entries waiting at most <see cref="RelayOptions.LeaseTime"/>, then another
/// replica takes the lease and reads the stream from its head again. The lease saves work, it does not guard correctness:
/// every step is idempotent and a relay trims only entries it wrote itself (all entries before its batch were trimmed
/// by a relay that wrote them), so two relays of one sale (a lease that expired under a stalled process) write each order
/// once and publish some events twice, which consumers deduplicate by event id.
/// </para>
/// <para>
/// Not a consumer group: XRANGE and XTRIM keep no pending entry per order and write nothing per order to the AOF.
/// </para>
/// </summary>
public sealed class OrderStreamRelay(
    RelayRedis relayRedis,
    SaleCatalog catalog,
    IEventPublisher publisher,
    OrderWriter writer,
    IOptions<OrdersOptions> options,
    OrdersMetrics metrics,
    ILogger<OrderStreamRelay> logger) : BackgroundService
{
    /// <summary>
    /// Takes the lease when nobody holds it; 1 when this owner holds it afterwards. Never for a sale Redis no longer holds
    /// (KEYS[2], its initial stock): a listing read before the sale was deleted would create a lease of no sale.
    /// </summary>
    static readonly RedisScript AcquireScript = new("""
        if redis.call('EXISTS', KEYS[2]) == 0 then return 0 end
        local owner = redis.call('GET', KEYS[1])
        if owner == false then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
        if owner == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
        return 0
        """);
    /// <summary>Extends the lease if this owner still holds it; never creates it (a deleted sale's lease stays deleted).</summary>
    static readonly RedisScript RenewScript = new("""
        if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
        return 0
        """);
    static readonly RedisScript ReleaseScript = new("""
        if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
        return 0
        """);
    static readonly TimeSpan SalesInterval = TimeSpan.FromSeconds(1);

    SaleStore Store => relayRedis.Store;
    IDatabase Redis => relayRedis.Store.Redis.GetDatabase();
    /// <summary>This replica's name in the leases it holds.</summary>
    public string Owner { get; } = $"{Environment.MachineName}-{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..6]}";

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var o = options.Value.Relay;
        if (!o.Enabled) return;
        await Task.Yield();
        var ns = options.Value.Namespace;
        var running = new Dictionary<string, (Task Task, CancellationTokenSource Stop)>();
        var failures = 0;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var sales = (await Store.ListSalesAsync(ns)).ToHashSet(StringComparer.Ordinal);
                foreach (var (sale, r) in running.ToList())
                {
                    if (r.Task.IsCompleted) { running.Remove(sale); r.Stop.Dispose(); }
                    else if (!sales.Contains(sale)) await r.Stop.CancelAsync(); // the sale was deleted
                }
                foreach (var sale in sales)
                {
                    if (running.ContainsKey(sale)) continue;
                    var keys = new SaleKeys(ns, sale);
                    if (!await LeaseAsync(AcquireScript, keys)) continue;
                    var stop = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
                    running[sale] = (RelaySaleAsync(keys, stop.Token), stop);
                }
                failures = 0;
                await Task.Delay(SalesInterval, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested) { break; }
            catch (Exception e)
            {
                failures++;
                var delay = Backoff.After(failures);
                logger.LogWarning(e, "Order relay could not list or lease the sales ({Failures} in a row); retrying in {Delay}", failures, delay);
                try { await Task.Delay(delay, stoppingToken); } catch (OperationCanceledException) { break; }
            }
        }
        await Task.WhenAll(running.Values.Select(r => r.Task));
        foreach (var r in running.Values) r.Stop.Dispose();
    }

    async Task<bool> LeaseAsync(RedisScript script, SaleKeys keys) =>
        (long)await script.EvaluateAsync(Redis, [keys.RelayLease, keys.Initial], [Owner, (long)options.Value.Relay.LeaseTime.TotalMilliseconds]) == 1;

    /// <summary>
    /// Relays one sale while this replica holds its lease: up to <see cref="RelayOptions.Workers"/> batches are written at once,
    /// and the stream is trimmed behind them in order. A failure backs this sale off alone (the other sales go on) and
    /// starts again from the stream's head, where every entry not yet written still is.
    /// </summary>
    async Task RelaySaleAsync(SaleKeys keys, CancellationToken ct)
    {
        var o = options.Value.Relay;
        var renewEvery = o.LeaseTime / 3;
        var renewedAt = Stopwatch.GetTimestamp();
        async Task<bool> RenewAsync()
        {
            if (!await LeaseAsync(RenewScript, keys)) return false; // expired (this process stalled) or the sale was deleted
            renewedAt = Stopwatch.GetTimestamp();
            return true;
        }
        var failures = 0;
        var written = new Queue<(Task<List<Guid>> Task, RedisValue LastId)>();
        try
        {
            while (!ct.IsCancellationRequested)
            {
                var after = RedisValue.Null;
                try
                {
                    while (!ct.IsCancellationRequested)
                    {
                        if (Stopwatch.GetElapsedTime(renewedAt) > renewEvery && !await RenewAsync()) return;
                        var readAt = Stopwatch.GetTimestamp();
                        var entries = await Redis.StreamRangeAsync(keys.Stream, after.IsNull ? "-" : "(" + after, "+", o.BatchSize);
                        if (entries.Length > 0)
                        {
                            after = entries[^1].Id;
                            written.Enqueue((WriteAsync(keys, entries, ct), after));
                        }
                        // A full batch means a backlog: read on while up to Workers batches are written. A partial one means the
                        // relay has caught up: finish the writes and read again IdleDelay after this read, so that the entries
                        // arriving meanwhile go in one bigger batch. PostgreSQL writes a row for less in a bigger statement
                        // (20.8 -> 16.5 us of its CPU per row with 250 -> 1,000 rows per INSERT, measured alone); reading
                        // again at once during a burst made batches of a few hundred, every other one a handful.
                        var caughtUp = entries.Length < o.BatchSize;
                        while (written.Count > 0 && (written.Count >= o.Workers || caughtUp))
                        {
                            var (task, lastId) = written.Peek();
                            var relayed = await task;
                            written.Dequeue();
                            await Store.TrimRelayedAsync(keys, Successor(lastId), relayed);
                        }
                        failures = 0;
                        if (caughtUp && o.IdleDelay - Stopwatch.GetElapsedTime(readAt) is { Ticks: > 0 } rest) await Task.Delay(rest, ct);
                    }
                }
                catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
                {
                    failures++;
                    var delay = Backoff.After(failures);
                    logger.LogWarning(e, "Relaying sale {Sale} failed ({Failures} in a row); the other sales go on, this one again in {Delay}",
                        keys.Sale, failures, delay);
                    await ForgetAsync(written);
                    // Keep the lease through the wait: another replica would meet the same failure.
                    for (var waited = TimeSpan.Zero; waited < delay && !ct.IsCancellationRequested; waited += renewEvery)
                    {
                        await Task.Delay(delay - waited < renewEvery ? delay - waited : renewEvery, ct);
                        if (!await RenewAsync()) return;
                    }
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested) { }
        catch (Exception e) { logger.LogWarning(e, "Relay of sale {Sale} stopped; another replica or the next listing takes it", keys.Sale); }
        finally
        {
            await ForgetAsync(written);
            // Hand the sale over at once (a rolling restart) instead of after the lease's TTL.
            try { await ReleaseScript.EvaluateAsync(Redis, [keys.RelayLease], [Owner]).WaitAsync(TimeSpan.FromSeconds(2)); }
            catch (Exception e) { logger.LogDebug(e, "Could not release the relay lease of sale {Sale}; it expires on its own", keys.Sale); }
        }
    }

    /// <summary>Waits for batches still being written after a failure; their entries stay in the stream and are read again.</summary>
    static async Task ForgetAsync(Queue<(Task<List<Guid>> Task, RedisValue LastId)> written)
    {
        while (written.TryDequeue(out var w))
        {
            try { await w.Task; } catch { /* already failing: the batch is read again from the stream */ }
        }
    }

    /// <summary>The smallest stream id after <paramref name="id"/> ("ms-seq" -> "ms-(seq+1)"): XTRIM MINID keeps it and what follows.</summary>
    internal static string Successor(RedisValue id)
    {
        var s = (string)id!;
        var dash = s.IndexOf('-');
        var seq = ulong.Parse(s.AsSpan(dash + 1), CultureInfo.InvariantCulture);
        return seq == ulong.MaxValue
            ? (ulong.Parse(s.AsSpan(0, dash), CultureInfo.InvariantCulture) + 1).ToString(CultureInfo.InvariantCulture) + "-0"
            : string.Concat(s.AsSpan(0, dash + 1), (seq + 1).ToString(CultureInfo.InvariantCulture));
    }

    /// <summary>Writes a batch to PostgreSQL, then publishes its order.reserved events as one pack; returns its order ids.</summary>
    async Task<List<Guid>> WriteAsync(SaleKeys keys, StreamEntry[] entries, CancellationToken ct)
    {
        var state = await catalog.GetAsync(keys.Namespace, keys.Sale);
        var orders = new List<OrderStreamEntry>(entries.Length);
        foreach (var entry in entries)
        {
            if (OrderStreamEntry.TryParse(entry, out var e)) orders.Add(e);
            else logger.LogError("Malformed order stream entry {EntryId} of sale {Sale}; skipped and trimmed with its batch", entry.Id, keys.Sale);
        }
        if (orders.Count == 0) return [];
        var started = Stopwatch.GetTimestamp();
        await writer.InsertAsync(keys, orders, state, ct);
        metrics.RelayInsert(orders.Count, Stopwatch.GetElapsedTime(started));
        if (options.Value.Relay.Publish)
        {
            // One message per batch: the broker's work per order (three quorum queues, a confirm each) bounded the pipeline.
            var events = orders.Select(e => OrderWriter.ReservedEvent(keys, e, state)).Select(o => new OutgoingEvent(o.EventId, o.Type, o.ToJson())).ToList();
            await publisher.PublishPackAsync(new SaleTopology(keys.Namespace, keys.Sale).Exchange, OrderEventTypes.Reserved, events, ct);
        }
        return [.. orders.Select(o => o.OrderId)];
    }
}

/// <summary>
/// Samples the order stream of every sale of the namespace (length, age of its head) into <see cref="OrdersMetrics"/> every
/// <see cref="Interval"/>, so that a scrape reads memory, not Redis. Sale names come from the namespace's registry, which
/// only preload writes.
/// </summary>
public sealed class OrderStreamGauges(RelayRedis relayRedis, IOptions<OrdersOptions> options, OrdersMetrics metrics, ILogger<OrderStreamGauges> logger)
    : BackgroundService
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(5);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await Task.Yield();
        using var timer = new PeriodicTimer(Interval);
        try
        {
            do
            {
                try
                {
                    metrics.OrderStreams(await SampleAsync());
                }
                catch (Exception e) when (!stoppingToken.IsCancellationRequested)
                {
                    // The last sample stays: a gauge that vanished while Redis is away would hide a stalled relay.
                    logger.LogDebug(e, "Could not sample the order streams; keeping the last sample");
                }
            }
            while (await timer.WaitForNextTickAsync(stoppingToken));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested) { }
    }

    internal async Task<IReadOnlyList<OrderStreamSample>> SampleAsync()
    {
        var store = relayRedis.Store;
        var db = store.Redis.GetDatabase();
        var samples = new List<OrderStreamSample>();
        foreach (var sale in await store.ListSalesAsync(options.Value.Namespace))
        {
            var keys = new SaleKeys(options.Value.Namespace, sale);
            var length = await db.StreamLengthAsync(keys.Stream);
            var head = length == 0 ? [] : await db.StreamRangeAsync(keys.Stream, "-", "+", 1);
            var age = TimeSpan.Zero;
            // Entry ids are "<ms>-<seq>" from Redis's clock (XADD *), so the age is measured against that clock too.
            if (head.Length > 0 && long.TryParse(((string)head[0].Id!).Split('-')[0], CultureInfo.InvariantCulture, out var ms))
            {
                var now = await store.GetTimeAsync(keys);
                age = now - DateTimeOffset.FromUnixTimeMilliseconds(ms);
                if (age < TimeSpan.Zero) age = TimeSpan.Zero;
            }
            samples.Add(new OrderStreamSample(sale, length, age));
        }
        return samples;
    }
}
