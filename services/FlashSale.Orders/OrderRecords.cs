using FlashSale.Orders.Apis;

namespace FlashSale.Orders;

/// <summary>An orders.orders row as payment and expiry need it.</summary>
public sealed record OrderRow(Guid OrderId, string Namespace, string Sale, Guid UserId, string BuyerEmail, string Sku, int Quantity,
    decimal UnitPrice, string Currency, string Status, string Gate, DateTimeOffset CreatedAt, DateTimeOffset PaymentDueAt,
    DateTimeOffset? PaidAt, DateTimeOffset? ExpiredAt)
{
    public const string Columns = "order_id, namespace, sale, user_id, buyer_email, sku, quantity, unit_price, currency, status, gate, created_at, payment_due_at, paid_at, expired_at";

    public decimal Amount => UnitPrice * Quantity;

    public static OrderRow Read(NpgsqlDataReader r) => new(r.GetGuid(0), r.GetString(1), r.GetString(2), r.GetGuid(3), r.GetString(4), r.GetString(5),
        r.GetInt32(6), r.GetDecimal(7), r.GetString(8), r.GetString(9), r.GetString(10), r.GetFieldValue<DateTimeOffset>(11), r.GetFieldValue<DateTimeOffset>(12),
        r.IsDBNull(13) ? null : r.GetFieldValue<DateTimeOffset>(13), r.IsDBNull(14) ? null : r.GetFieldValue<DateTimeOffset>(14));

    public OrderView ToView() => new(OrderId, Sale, Sku, Quantity, UnitPrice, Currency, Status, CreatedAt, PaymentDueAt, PaidAt, ExpiredAt);

    public OrderEvent ToEvent(string type, DateTimeOffset at) => new(OrderEventTypes.EventId(type, OrderId), type, OrderId, Namespace, Sale, UserId,
        Sku, Quantity, UnitPrice, Currency, at, PaymentDueAt, BuyerEmail.Length == 0 ? null : BuyerEmail);
}

/// <summary>Writes order events into orders.outbox inside the caller's transaction (OutboxPublisher publishes them).</summary>
public static class OrderOutbox
{
    public static async Task AddAsync(NpgsqlConnection c, NpgsqlTransaction tx, IReadOnlyList<OrderEvent> events, CancellationToken ct)
    {
        if (events.Count == 0) return;
        await using var cmd = new NpgsqlCommand("""
            INSERT INTO orders.outbox (event_id, exchange, routing_key, payload)
            SELECT * FROM unnest(@ids, @exchanges, @keys, @payloads)
            ON CONFLICT (event_id) DO NOTHING
            """, c, tx);
        cmd.Parameters.AddWithValue("ids", events.Select(e => e.EventId).ToArray());
        cmd.Parameters.AddWithValue("exchanges", events.Select(e => new SaleTopology(e.Namespace, e.Sale).Exchange).ToArray());
        cmd.Parameters.AddWithValue("keys", events.Select(e => e.Type).ToArray());
        cmd.Parameters.AddWithValue("payloads", events.Select(e => e.ToJson()).ToArray());
        await cmd.ExecuteNonQueryAsync(ct);
    }
}
