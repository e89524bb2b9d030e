namespace FlashSale.Stock;

/// <summary>
/// Keeps stock.products from order events; runs inside the consumer host's transaction (inbox-deduped). A delivery's
/// events are summed per product first, so a relay batch of a thousand orders is one upsert per product.
/// </summary>
public sealed class StockEventHandler : IEventHandler
{
    public async Task HandleAsync(IReadOnlyList<IncomingEvent> events, NpgsqlConnection connection, NpgsqlTransaction transaction, CancellationToken ct)
    {
        var sums = new Dictionary<(string Ns, string Sale, string Sku), (long Reserved, long Paid, long Released)>();
        foreach (var e in events)
        {
            var order = OrderEvent.FromJson(e.Body.Span);
            var key = (order.Namespace, order.Sale, order.Sku);
            var (reserved, paid, released) = sums.GetValueOrDefault(key);
            sums[key] = order.Type switch
            {
                OrderEventTypes.Reserved => (reserved + order.Quantity, paid, released),
                OrderEventTypes.Paid => (reserved, paid + order.Quantity, released),
                OrderEventTypes.Expired => (reserved, paid, released + order.Quantity),
                _ => throw new InvalidOperationException($"unexpected order event type '{order.Type}' in {e.MessageId}"),
            };
        }
        // Products in a stable order, so that two deliveries touching the same rows cannot deadlock.
        foreach (var ((ns, sale, sku), (reserved, paid, released)) in sums.OrderBy(s => s.Key))
        {
            await using var cmd = new NpgsqlCommand("""
                INSERT INTO stock.products AS p (namespace, sale, sku, reserved, paid, released) VALUES (@ns, @sale, @sku, @reserved, @paid, @released)
                ON CONFLICT (namespace, sale, sku) DO UPDATE SET reserved = p.reserved + EXCLUDED.reserved, paid = p.paid + EXCLUDED.paid,
                    released = p.released + EXCLUDED.released, updated_at = now()
                """, connection, transaction);
            cmd.Parameters.AddWithValue("ns", ns);
            cmd.Parameters.AddWithValue("sale", sale);
            cmd.Parameters.AddWithValue("sku", sku);
            cmd.Parameters.AddWithValue("reserved", reserved);
            cmd.Parameters.AddWithValue("paid", paid);
            cmd.Parameters.AddWithValue("released", released);
            await cmd.ExecuteNonQueryAsync(ct);
        }
    }
}
