using FlashSale.Contracts;
using FlashSale.Messaging;
using FlashSale.Sales;
using Npgsql;

namespace FlashSale.Orders.Expiry;

/// <summary>
/// Consumes &lt;prefix&gt;.orders.expiry: an order.reserved event dead-lettered by the wait queue after the payment timeout.
/// The expiry runs in its own transactions (the release must follow the commit); the inbox only dedupes deliveries, and a
/// message whose order is leased by a payment or not yet due by the database clock is left to the sweep.
/// </summary>
public sealed class OrderExpiryHandler(OrderExpirer expirer) : IEventHandler
{
    public async Task HandleAsync(IncomingEvent e, NpgsqlConnection connection, NpgsqlTransaction transaction, CancellationToken ct)
    {
        var order = OrderEvent.FromJson(e.Body.Span);
        if (order.OrderId == Guid.Empty) throw new InvalidOperationException($"event {e.MessageId} carries no order id");
        await expirer.ExpireDueAsync([order.OrderId], ct);
        await expirer.ReleasePendingAsync([order.OrderId], ct);
    }
}
