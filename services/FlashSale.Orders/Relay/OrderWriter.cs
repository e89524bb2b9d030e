using NpgsqlTypes;

namespace FlashSale.Orders.Relay;

/// <summary>
/// Writes orders of the Redis gate from the sale's stream into orders.orders: the relay a batch at a time, a GET or a payment
/// one order the relay has not reached yet. The order id is the key, so whoever writes an order first, it is written once.
/// </summary>
public sealed class OrderWriter(NpgsqlDataSource db, SaleStore store, SaleCatalog catalog, IConfiguration configuration, ILogger<OrderWriter> logger)
{
    static readonly TimeSpan DefaultPaymentTimeout = TimeSpan.FromMinutes(15);
    readonly string _namespace = configuration["Orders:Namespace"] ?? "default";

    public static DateTimeOffset DueAt(OrderStreamEntry e, SaleState? sale) => e.ReservedAt + (sale?.PaymentTimeout ?? DefaultPaymentTimeout);

    public static string Currency(SaleState? sale) => sale?.Currency ?? "EUR";

    public static OrderEvent ReservedEvent(SaleKeys keys, OrderStreamEntry e, SaleState? sale) =>
        new(OrderEventTypes.EventId(OrderEventTypes.Reserved, e.OrderId), OrderEventTypes.Reserved, e.OrderId, keys.Namespace, keys.Sale, e.UserId, e.Sku,
            e.Quantity, e.UnitPrice, Currency(sale), e.ReservedAt, DueAt(e, sale), e.BuyerEmail);

    /// <summary>
    /// The order in a sale's stream of this namespace, not yet written by the relay (the index of pending orders is per sale;
    /// a namespace serves one sale or a few). Null when no sale holds it: it is in PostgreSQL, or it does not exist.
    /// </summary>
    public async Task<(SaleKeys Keys, OrderStreamEntry Entry, SaleState? Sale)?> FindPendingAsync(Guid orderId)
    {
        foreach (var sale in await store.ListSalesAsync(_namespace))
        {
            var keys = new SaleKeys(_namespace, sale);
            if (await store.FindPendingOrderAsync(keys, orderId) is { } entry) return (keys, entry, await catalog.GetAsync(_namespace, sale));
        }
        return null;
    }

    /// <summary>Writes one pending order now, unless it is there already (then the relay's batch skips it).</summary>
    public async Task WriteOneAsync(SaleKeys keys, OrderStreamEntry order, SaleState? sale, CancellationToken ct)
    {
        await InsertAsync(keys, [order], sale, skipExisting: true, ct);
        logger.LogDebug("Order {OrderId} of sale {Sale} written ahead of the relay", order.OrderId, keys.Sale);
    }

    const string InsertSql = """
        INSERT INTO orders.orders (order_id, namespace, sale, user_id, buyer_email, sku, quantity, unit_price, currency, idempotency_key, gate, created_at, payment_due_at)
        SELECT id, @ns, @sale, user_id, email, sku, qty, price, @currency, key, 'redis', created, due
        FROM unnest(@ids, @users, @emails, @skus, @qtys, @prices, @keys, @created, @due) AS t(id, user_id, email, sku, qty, price, key, created, due)
        """;

    /// <summary>
    /// Writes a batch with a plain INSERT, and only when an order of it is already there (the batch was written by a relay
    /// that stopped before trimming it, by a second relay of the sale, or the order by a payment ahead of the relay) again
    /// with ON CONFLICT DO NOTHING. The plain INSERT fails whole on a duplicate, so nothing is written twice. ON CONFLICT on
    /// every batch costs PostgreSQL its speculative insertion on every row, for a case that is rare.
    /// </summary>
    public async Task InsertAsync(SaleKeys keys, List<OrderStreamEntry> orders, SaleState? sale, CancellationToken ct)
    {
        try
        {
            await InsertAsync(keys, orders, sale, skipExisting: false, ct);
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UniqueViolation)
        {
            logger.LogInformation("A batch of {Count} orders of sale {Sale} holds orders already in PostgreSQL ({Constraint}); writing the others",
                orders.Count, keys.Sale, e.ConstraintName);
            await InsertAsync(keys, orders, sale, skipExisting: true, ct);
        }
    }

    async Task InsertAsync(SaleKeys keys, List<OrderStreamEntry> orders, SaleState? sale, bool skipExisting, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand(skipExisting ? InsertSql + " ON CONFLICT (order_id) DO NOTHING" : InsertSql);
        cmd.Parameters.AddWithValue("ns", keys.Namespace);
        cmd.Parameters.AddWithValue("sale", keys.Sale);
        cmd.Parameters.AddWithValue("currency", Currency(sale));
        cmd.Parameters.AddWithValue("ids", orders.Select(o => o.OrderId).ToArray());
        cmd.Parameters.AddWithValue("users", orders.Select(o => o.UserId).ToArray());
        cmd.Parameters.AddWithValue("emails", orders.Select(o => o.BuyerEmail ?? "").ToArray());
        cmd.Parameters.AddWithValue("skus", orders.Select(o => o.Sku).ToArray());
        cmd.Parameters.AddWithValue("qtys", orders.Select(o => o.Quantity).ToArray());
        cmd.Parameters.AddWithValue("prices", orders.Select(o => o.UnitPrice).ToArray());
        cmd.Parameters.AddWithValue("keys", orders.Select(o => o.IdempotencyKey).ToArray());
        cmd.Parameters.Add(new NpgsqlParameter("created", NpgsqlDbType.Array | NpgsqlDbType.TimestampTz) { Value = orders.Select(o => o.ReservedAt.UtcDateTime).ToArray() });
        cmd.Parameters.Add(new NpgsqlParameter("due", NpgsqlDbType.Array | NpgsqlDbType.TimestampTz) { Value = orders.Select(o => DueAt(o, sale).UtcDateTime).ToArray() });
        await cmd.ExecuteNonQueryAsync(ct);
    }
}
