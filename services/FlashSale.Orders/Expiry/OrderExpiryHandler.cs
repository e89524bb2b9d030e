namespace FlashSale.Orders.Expiry;

/// <summary>
/// Consumes &lt;prefix&gt;.orders.expiry: an order.reserved event dead-lettered by the wait queue after the payment timeout.
/// The expiry runs in its own transactions (the release must follow the commit); the inbox only dedupes deliveries, and a
/// message whose order is leased by a payment or not yet due by the database clock is left to the sweep.
/// </summary>
public sealed class OrderExpiryHandler(OrderExpirer expirer) : IEventHandler
{
    public async Task HandleAsync(IReadOnlyList<IncomingEvent> events, NpgsqlConnection connection, NpgsqlTransaction transaction, CancellationToken ct)
    {
        var ids = new Guid[events.Count];
        for (var i = 0; i < events.Count; i++)
        {
            var e = events[i];
            var order = OrderEvent.FromJson(e.Body.Span);
            if (order.OrderId == Guid.Empty) throw new InvalidOperationException($"event {e.MessageId} carries no order id");
            ids[i] = order.OrderId;
        }
        await expirer.ExpireDueAsync(ids, ct);
        await expirer.ReleasePendingAsync(ids, ct);
    }
}
