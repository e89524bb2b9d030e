using System.Collections.Concurrent;

namespace FlashSale.Orders.Gates;

/// <summary>
/// Designs kept as measured baselines for the Redis gate: the whole decision in one PostgreSQL transaction, the order
/// and its order.reserved event (outbox) written in that same transaction.
/// </summary>
public abstract class PostgresGateBase(NpgsqlDataSource db, SaleStore store, SaleCatalog catalog) : IStockGate
{
    readonly ConcurrentDictionary<(string, string), Task> _seeded = new();

    public abstract string Name { get; }
    public abstract Task<ReserveResult> ReserveAsync(ReserveRequest request, CancellationToken ct);

    /// <summary>
    /// Window check and lazy seeding of the sale's stock rows: the sale to sell, or the early answer when there is none.
    /// </summary>
    protected async Task<(SaleState? Sale, ReserveResult? Early)> PrepareAsync(ReserveRequest r)
    {
        var sale = await catalog.GetAsync(r.Namespace, r.Sale);
        if (sale is null) return (null, ReserveResult.Reject(Reasons.UnknownSale));
        var seeding = _seeded.GetOrAdd((r.Namespace, r.Sale), _ => SeedAsync(r.Namespace, r.Sale, sale));
        try { await seeding; }
        catch
        {
            // Do not remember a failed seeding (e.g. PostgreSQL was down): the next request tries again.
            _seeded.TryRemove(new KeyValuePair<(string, string), Task>((r.Namespace, r.Sale), seeding));
            throw;
        }
        var now = DateTimeOffset.UtcNow;
        if (now < sale.StartsAt) return (null, ReserveResult.Reject(Reasons.NotStarted, sale.StartsAt.ToUnixTimeMilliseconds().ToString()));
        if (now >= sale.EndsAt) return (null, ReserveResult.Reject(Reasons.Ended));
        return (sale, null);
    }

    async Task SeedAsync(string ns, string sale, SaleState state)
    {
        var products = await store.GetStockAsync(new SaleKeys(ns, sale));
        await using var cmd = db.CreateCommand("""
            INSERT INTO orders.gate_stock (namespace, sale, sku, initial, remaining, per_user_limit, unit_price, currency)
            SELECT @ns, @sale, sku, initial, initial, lim, price, @currency
            FROM unnest(@skus, @initial, @limits, @prices) AS t(sku, initial, lim, price)
            ON CONFLICT DO NOTHING
            """);
        cmd.Parameters.AddWithValue("ns", ns);
        cmd.Parameters.AddWithValue("sale", sale);
        cmd.Parameters.AddWithValue("currency", state.Currency);
        cmd.Parameters.AddWithValue("skus", products.Select(p => p.Sku).ToArray());
        cmd.Parameters.AddWithValue("initial", products.Select(p => p.Initial).ToArray());
        cmd.Parameters.AddWithValue("limits", products.Select(p => p.PerUserLimit).ToArray());
        cmd.Parameters.AddWithValue("prices", products.Select(p => p.Price).ToArray());
        await cmd.ExecuteNonQueryAsync();
    }

    protected static async Task<ReserveResult?> FindReplayAsync(NpgsqlConnection c, NpgsqlTransaction? tx, ReserveRequest r)
    {
        await using var cmd = new NpgsqlCommand("""
            SELECT order_id, sku, quantity FROM orders.gate_idempotency
            WHERE namespace = @ns AND sale = @sale AND user_id = @user AND key = @key
            """, c, tx);
        AddKey(cmd, r);
        await using var reader = await cmd.ExecuteReaderAsync();
        if (!await reader.ReadAsync()) return null;
        return reader.GetString(1) == r.Sku && reader.GetInt32(2) == r.Quantity
            ? new ReserveResult(ReserveOutcome.Replayed, reader.GetGuid(0), null, null, -1)
            : ReserveResult.Reject(Reasons.IdempotencyMismatch);
    }

    /// <summary>Takes the per-user allowance, writes idempotency record, order and outbox event. False when over the limit.</summary>
    protected static async Task<bool> WriteOrderAsync(NpgsqlConnection c, NpgsqlTransaction tx, ReserveRequest r, int limit, decimal price, string currency, TimeSpan paymentTimeout, string gate)
    {
        await using (var purchase = new NpgsqlCommand("""
            INSERT INTO orders.gate_purchases AS p (namespace, sale, user_id, sku, quantity) VALUES (@ns, @sale, @user, @sku, @qty)
            ON CONFLICT (namespace, sale, user_id, sku) DO UPDATE SET quantity = p.quantity + EXCLUDED.quantity
            WHERE p.quantity + EXCLUDED.quantity <= @limit
            """, c, tx))
        {
            AddKey(purchase, r);
            purchase.Parameters.AddWithValue("sku", r.Sku);
            purchase.Parameters.AddWithValue("qty", r.Quantity);
            purchase.Parameters.AddWithValue("limit", limit);
            if (r.Quantity > limit || await purchase.ExecuteNonQueryAsync() == 0) return false;
        }
        var now = DateTimeOffset.UtcNow;
        var e = new OrderEvent(OrderEventTypes.EventId(OrderEventTypes.Reserved, r.NewOrderId), OrderEventTypes.Reserved, r.NewOrderId,
            r.Namespace, r.Sale, r.UserId, r.Sku, r.Quantity, price, currency, now, now + paymentTimeout, r.Email);
        await using var cmd = new NpgsqlCommand("""
            INSERT INTO orders.gate_idempotency (namespace, sale, user_id, key, order_id, sku, quantity) VALUES (@ns, @sale, @user, @key, @id, @sku, @qty);
            INSERT INTO orders.orders (order_id, namespace, sale, user_id, buyer_email, sku, quantity, unit_price, currency, idempotency_key, gate, created_at, payment_due_at)
            VALUES (@id, @ns, @sale, @user, @email, @sku, @qty, @price, @currency, @key, @gate, @now, @due);
            INSERT INTO orders.outbox (event_id, exchange, routing_key, payload) VALUES (@event_id, @exchange, @routing_key, @payload);
            """, c, tx);
        AddKey(cmd, r);
        cmd.Parameters.AddWithValue("id", r.NewOrderId);
        cmd.Parameters.AddWithValue("email", r.Email ?? "");
        cmd.Parameters.AddWithValue("sku", r.Sku);
        cmd.Parameters.AddWithValue("qty", r.Quantity);
        cmd.Parameters.AddWithValue("price", price);
        cmd.Parameters.AddWithValue("currency", currency);
        cmd.Parameters.AddWithValue("gate", gate);
        cmd.Parameters.AddWithValue("now", now);
        cmd.Parameters.AddWithValue("due", now + paymentTimeout);
        cmd.Parameters.AddWithValue("event_id", e.EventId);
        cmd.Parameters.AddWithValue("exchange", new SaleTopology(r.Namespace, r.Sale).Exchange);
        cmd.Parameters.AddWithValue("routing_key", e.Type);
        cmd.Parameters.AddWithValue("payload", e.ToJson());
        await cmd.ExecuteNonQueryAsync();
        return true;
    }

    static void AddKey(NpgsqlCommand cmd, ReserveRequest r)
    {
        cmd.Parameters.AddWithValue("ns", r.Namespace);
        cmd.Parameters.AddWithValue("sale", r.Sale);
        cmd.Parameters.AddWithValue("user", r.UserId);
        cmd.Parameters.AddWithValue("key", r.IdempotencyKey);
    }

    protected async Task<NpgsqlConnection> OpenAsync(CancellationToken ct) => await db.OpenConnectionAsync(ct);
}

/// <summary>SELECT ... FOR UPDATE on the product's stock row: buyers of one sku queue on one row lock.</summary>
public sealed class PostgresRowLockGate(NpgsqlDataSource db, SaleStore store, SaleCatalog catalog) : PostgresGateBase(db, store, catalog)
{
    public override string Name => StockGates.PostgresRowLock;

    public override async Task<ReserveResult> ReserveAsync(ReserveRequest r, CancellationToken ct)
    {
        var (sale, early) = await PrepareAsync(r);
        if (early is { } answer) return answer;
        await using var c = await OpenAsync(ct);
        if (await FindReplayAsync(c, null, r) is { } replay) return replay;
        await using var tx = await c.BeginTransactionAsync(ct);
        await using (var select = new NpgsqlCommand("""
            SELECT remaining, per_user_limit, unit_price, currency FROM orders.gate_stock
            WHERE namespace = @ns AND sale = @sale AND sku = @sku FOR UPDATE
            """, c, tx))
        {
            select.Parameters.AddWithValue("ns", r.Namespace);
            select.Parameters.AddWithValue("sale", r.Sale);
            select.Parameters.AddWithValue("sku", r.Sku);
            long remaining; int limit; decimal price; string currency;
            await using (var reader = await select.ExecuteReaderAsync(ct))
            {
                if (!await reader.ReadAsync(ct)) return ReserveResult.Reject(Reasons.UnknownSku);
                (remaining, limit, price, currency) = (reader.GetInt64(0), reader.GetInt32(1), reader.GetDecimal(2), reader.GetString(3));
            }
            // A concurrent request with this key may have committed while we waited for the lock.
            if (await FindReplayAsync(c, tx, r) is { } late) return late;
            if (remaining < r.Quantity && r.Quantity <= limit) return ReserveResult.Reject(Reasons.SoldOut, remaining.ToString());
            try
            {
                if (!await WriteOrderAsync(c, tx, r, limit, price, currency, sale!.PaymentTimeout, Name))
                    return ReserveResult.Reject(Reasons.LimitReached);
            }
            catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UniqueViolation)
            {
                await tx.RollbackAsync(ct);
                return await FindReplayAsync(c, null, r) ?? throw new InvalidOperationException("idempotency row vanished", e);
            }
            if (remaining < r.Quantity) return ReserveResult.Reject(Reasons.SoldOut, remaining.ToString());
            await using var update = new NpgsqlCommand("UPDATE orders.gate_stock SET remaining = remaining - @qty, version = version + 1 WHERE namespace = @ns AND sale = @sale AND sku = @sku", c, tx);
            update.Parameters.AddWithValue("qty", (long)r.Quantity);
            update.Parameters.AddWithValue("ns", r.Namespace);
            update.Parameters.AddWithValue("sale", r.Sale);
            update.Parameters.AddWithValue("sku", r.Sku);
            await update.ExecuteNonQueryAsync(ct);
            await tx.CommitAsync(ct);
            return new ReserveResult(ReserveOutcome.Accepted, r.NewOrderId, null, null, remaining - r.Quantity);
        }
    }
}

/// <summary>Optimistic concurrency on a version column with bounded retries; then 409 CONTENTION.</summary>
public sealed class PostgresOptimisticGate(NpgsqlDataSource db, SaleStore store, SaleCatalog catalog) : PostgresGateBase(db, store, catalog)
{
    public const int MaxAttempts = 5;
    public override string Name => StockGates.PostgresOptimistic;

    public override async Task<ReserveResult> ReserveAsync(ReserveRequest r, CancellationToken ct)
    {
        var (sale, early) = await PrepareAsync(r);
        if (early is { } answer) return answer;
        await using var c = await OpenAsync(ct);
        for (var attempt = 1; attempt <= MaxAttempts; attempt++)
        {
            if (await FindReplayAsync(c, null, r) is { } replay) return replay;
            long remaining, version; int limit; decimal price; string currency;
            await using (var select = new NpgsqlCommand("""
                SELECT remaining, per_user_limit, unit_price, currency, version FROM orders.gate_stock
                WHERE namespace = @ns AND sale = @sale AND sku = @sku
                """, c))
            {
                select.Parameters.AddWithValue("ns", r.Namespace);
                select.Parameters.AddWithValue("sale", r.Sale);
                select.Parameters.AddWithValue("sku", r.Sku);
                await using var reader = await select.ExecuteReaderAsync(ct);
                if (!await reader.ReadAsync(ct)) return ReserveResult.Reject(Reasons.UnknownSku);
                (remaining, limit, price, currency, version) = (reader.GetInt64(0), reader.GetInt32(1), reader.GetDecimal(2), reader.GetString(3), reader.GetInt64(4));
            }
            if (r.Quantity > limit) return ReserveResult.Reject(Reasons.LimitReached);
            if (remaining < r.Quantity) return ReserveResult.Reject(Reasons.SoldOut, remaining.ToString());
            await using var tx = await c.BeginTransactionAsync(ct);
            await using (var update = new NpgsqlCommand("""
                UPDATE orders.gate_stock SET remaining = remaining - @qty, version = version + 1
                WHERE namespace = @ns AND sale = @sale AND sku = @sku AND version = @version
                """, c, tx))
            {
                update.Parameters.AddWithValue("qty", (long)r.Quantity);
                update.Parameters.AddWithValue("ns", r.Namespace);
                update.Parameters.AddWithValue("sale", r.Sale);
                update.Parameters.AddWithValue("sku", r.Sku);
                update.Parameters.AddWithValue("version", version);
                if (await update.ExecuteNonQueryAsync(ct) == 0)
                {
                    await tx.RollbackAsync(ct);
                    await Task.Delay(Random.Shared.Next(1, 4 << attempt), ct);
                    continue;
                }
            }
            try
            {
                if (!await WriteOrderAsync(c, tx, r, limit, price, currency, sale!.PaymentTimeout, Name))
                {
                    await tx.RollbackAsync(ct);
                    return ReserveResult.Reject(Reasons.LimitReached);
                }
            }
            catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UniqueViolation)
            {
                await tx.RollbackAsync(ct);
                return await FindReplayAsync(c, null, r) ?? throw new InvalidOperationException("idempotency row vanished", e);
            }
            await tx.CommitAsync(ct);
            return new ReserveResult(ReserveOutcome.Accepted, r.NewOrderId, null, null, remaining - r.Quantity);
        }
        return ReserveResult.Reject(Reasons.Contention);
    }
}
