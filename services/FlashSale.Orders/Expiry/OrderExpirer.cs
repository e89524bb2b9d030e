using FlashSale.Orders.Gates;

namespace FlashSale.Orders.Expiry;

/// <summary>
/// Expires unpaid orders and returns their units to stock, exactly once:
/// 1. one transaction: RESERVED -> EXPIRED where payment_due_at &lt;= now() and no payment lease holds, order.expired into the
///    outbox, and for the PostgreSQL gates the units back into gate_stock/gate_purchases (released_at set right there);
/// 2. for Redis-gate orders, after the commit: release.lua (idempotent per order id), then released_at = now().
/// A crash between 1 and 2 leaves EXPIRED orders with released_at NULL, which <see cref="ReleasePendingAsync"/> (run by the
/// sweep and by every expiry message) finishes; release.lua's per-order set makes a repeated release a no-op.
/// </summary>
public sealed class OrderExpirer(NpgsqlDataSource db, SaleStore store, SoldOutCache soldOut, IOptions<OrdersOptions> options, OrdersMetrics metrics,
    ILogger<OrderExpirer> logger)
{
    static readonly string ReturningColumns = string.Join(", ", OrderRow.Columns.Split(", ").Select(c => "o." + c));

    /// <summary>Expires the given orders if they are due, or (ids null) up to a batch of the namespace's due orders. Returns how many expired.</summary>
    public async Task<int> ExpireDueAsync(Guid[]? ids, CancellationToken ct)
    {
        var o = options.Value;
        var expired = new List<OrderRow>();
        var attempted = new List<Guid>();
        await using (var c = await db.OpenConnectionAsync(ct))
        await using (var tx = await c.BeginTransactionAsync(ct))
        {
            await using (var cmd = new NpgsqlCommand($"""
                UPDATE orders.orders o SET status = 'EXPIRED', expired_at = now()
                FROM (SELECT order_id FROM orders.orders
                      WHERE status = 'RESERVED' AND payment_due_at <= now()
                        AND (payment_started_at IS NULL OR payment_started_at <= now() - @lease)
                        AND {(ids is null ? "namespace = @ns" : "order_id = ANY(@ids)")}
                      ORDER BY payment_due_at LIMIT @n FOR UPDATE SKIP LOCKED) due
                WHERE o.order_id = due.order_id
                RETURNING {ReturningColumns}, o.payment_started_at IS NOT NULL
                """, c, tx))
            {
                cmd.Parameters.AddWithValue("lease", o.Payment.Lease);
                // Two statements, not one with a CASE: a generic plan of the CASE form cannot use the namespace index.
                if (ids is null) cmd.Parameters.AddWithValue("ns", o.Namespace);
                else cmd.Parameters.AddWithValue("ids", ids);
                cmd.Parameters.AddWithValue("n", Math.Max(1, o.Expiry.BatchSize));
                await using var reader = await cmd.ExecuteReaderAsync(ct);
                while (await reader.ReadAsync(ct))
                {
                    expired.Add(OrderRow.Read(reader));
                    if (reader.GetBoolean(15)) attempted.Add(expired[^1].OrderId);
                }
            }
            if (expired.Count == 0) return 0;
            var at = DateTimeOffset.UtcNow;
            await OrderOutbox.AddAsync(c, tx, [.. expired.Select(e => e.ToEvent(OrderEventTypes.Expired, e.ExpiredAt ?? at))], ct);
            foreach (var e in expired.Where(e => e.Gate != StockGates.Redis)) await ReleaseInPostgresAsync(c, tx, e, ct);
            await tx.CommitAsync(ct);
        }
        foreach (var e in expired)
        {
            metrics.Expired(afterPaymentAttempt: attempted.Contains(e.OrderId));
            if (e.Gate != StockGates.Redis) metrics.UnitsReturned(e.Sku, e.Quantity);
        }
        foreach (var id in attempted)
            logger.LogWarning("Order {OrderId} expired after a payment attempt whose lease lapsed unfinished; a debit recorded for it is refunded by the users service on order.expired", id);
        foreach (var e in expired)
            logger.LogInformation("Order {OrderId} of sale {Sale} expired unpaid; {Quantity} x {Sku} return to stock", e.OrderId, e.Sale, e.Quantity, e.Sku);
        await ReleaseAsync(expired.Where(e => e.Gate == StockGates.Redis).ToList(), ct);
        return expired.Count;
    }

    /// <summary>Releases expired Redis-gate orders whose release is not recorded (a crash after the expiry commit). Returns how many.</summary>
    public async Task<int> ReleasePendingAsync(Guid[]? ids, CancellationToken ct)
    {
        var pending = new List<OrderRow>();
        await using (var cmd = db.CreateCommand($"""
            SELECT {OrderRow.Columns} FROM orders.orders
            WHERE status = 'EXPIRED' AND released_at IS NULL AND gate = @gate
              AND {(ids is null ? "namespace = @ns" : "order_id = ANY(@ids)")}
            ORDER BY expired_at LIMIT @n
            """))
        {
            cmd.Parameters.AddWithValue("gate", StockGates.Redis);
            if (ids is null) cmd.Parameters.AddWithValue("ns", options.Value.Namespace);
            else cmd.Parameters.AddWithValue("ids", ids);
            cmd.Parameters.AddWithValue("n", Math.Max(1, options.Value.Expiry.BatchSize));
            await using var reader = await cmd.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct)) pending.Add(OrderRow.Read(reader));
        }
        await ReleaseAsync(pending, ct);
        return pending.Count;
    }

    async Task ReleaseAsync(List<OrderRow> orders, CancellationToken ct)
    {
        if (orders.Count == 0) return;
        var released = new List<Guid>(orders.Count);
        var saleGone = new Dictionary<(string Sale, ReleaseOutcome Outcome), int>();
        foreach (var e in orders)
        {
            var keys = soldOut.TryGetKeys(e.Namespace, e.Sale, out var known) ? known : new SaleKeys(e.Namespace, e.Sale);
            var outcome = await store.ReleaseAsync(keys, e.OrderId, e.UserId, e.Sku, e.Quantity, e.CreatedAt);
            soldOut.Clear(e.Namespace, e.Sale, e.Sku);
            if (outcome == ReleaseOutcome.Released) metrics.UnitsReturned(e.Sku, e.Quantity);
            if (outcome == ReleaseOutcome.AlreadyReleased) logger.LogInformation("Order {OrderId} had been released before; recording it", e.OrderId);
            if (outcome is ReleaseOutcome.SaleNotInRedis or ReleaseOutcome.EarlierSale) saleGone[(e.Sale, outcome)] = saleGone.GetValueOrDefault((e.Sale, outcome)) + 1;
            released.Add(e.OrderId);
        }
        // A sale Redis no longer holds has no stock to return units to: deleted (its orders expire after it), or lost with
        // Redis's data (the operator then reports SaleLostFromRedis). Nor has a sale of the same name applied since: its
        // stock is its own. Such orders are recorded as released; release.lua writes nothing for them (no counters of
        // a deleted sale created anew, no earlier sale's units added to a sale applied again under its name).
        foreach (var ((sale, outcome), count) in saleGone)
            logger.LogWarning(outcome == ReleaseOutcome.EarlierSale
                    ? "Sale {Sale} was applied again after {Count} expired order(s) of its earlier run: recorded as released, their units not added to the new sale's stock"
                    : "Sale {Sale} is not in Redis (deleted, or lost with Redis's data): {Count} expired order(s) recorded as released with no stock to return to",
                sale, count);
        await using var cmd = db.CreateCommand("UPDATE orders.orders SET released_at = now() WHERE order_id = ANY(@ids) AND released_at IS NULL");
        cmd.Parameters.AddWithValue("ids", released.ToArray());
        await cmd.ExecuteNonQueryAsync(ct);
    }

    static async Task ReleaseInPostgresAsync(NpgsqlConnection c, NpgsqlTransaction tx, OrderRow e, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("""
            UPDATE orders.gate_stock SET remaining = remaining + @qty, version = version + 1 WHERE namespace = @ns AND sale = @sale AND sku = @sku;
            UPDATE orders.gate_purchases SET quantity = quantity - @qty WHERE namespace = @ns AND sale = @sale AND user_id = @user AND sku = @sku;
            UPDATE orders.orders SET released_at = now() WHERE order_id = @id;
            """, c, tx);
        cmd.Parameters.AddWithValue("qty", e.Quantity);
        cmd.Parameters.AddWithValue("ns", e.Namespace);
        cmd.Parameters.AddWithValue("sale", e.Sale);
        cmd.Parameters.AddWithValue("sku", e.Sku);
        cmd.Parameters.AddWithValue("user", e.UserId);
        cmd.Parameters.AddWithValue("id", e.OrderId);
        await cmd.ExecuteNonQueryAsync(ct);
    }
}
