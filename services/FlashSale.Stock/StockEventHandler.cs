namespace FlashSale.Stock;

/// <summary>Keeps stock.products from order events; runs inside the consumer host's transaction (inbox-deduped).</summary>
public sealed class StockEventHandler : IEventHandler
{
    public async Task HandleAsync(IncomingEvent e, NpgsqlConnection connection, NpgsqlTransaction transaction, CancellationToken ct)
    {
        var order = OrderEvent.FromJson(e.Body.Span);
        var column = order.Type switch
        {
            OrderEventTypes.Reserved => "reserved",
            OrderEventTypes.Paid => "paid",
            OrderEventTypes.Expired => "released",
            _ => throw new InvalidOperationException($"unexpected order event type '{order.Type}'"),
        };
        await using var cmd = new NpgsqlCommand($"""
            INSERT INTO stock.products AS p (namespace, sale, sku, {column}) VALUES (@ns, @sale, @sku, @qty)
            ON CONFLICT (namespace, sale, sku) DO UPDATE SET {column} = p.{column} + EXCLUDED.{column}, updated_at = now()
            """, connection, transaction);
        cmd.Parameters.AddWithValue("ns", order.Namespace);
        cmd.Parameters.AddWithValue("sale", order.Sale);
        cmd.Parameters.AddWithValue("sku", order.Sku);
        cmd.Parameters.AddWithValue("qty", (long)order.Quantity);
        await cmd.ExecuteNonQueryAsync(ct);
    }
}
