using FlashSale.Contracts;
using FlashSale.Messaging;

namespace FlashSale.Notifications;

/// <summary>
/// Records one pending notification per order event, in the consumer host's transaction (inbox-deduped; the event id is
/// also unique in the table), a delivery's events in one statement. Delivery is the dispatcher's job, so a mail outage
/// never holds up or dead-letters the queue; an event that cannot be understood fails here, is retried and ends in the
/// dead-letter queue.
/// </summary>
public sealed class NotificationEventHandler(ILogger<NotificationEventHandler> logger) : IEventHandler
{
    public async Task HandleAsync(IReadOnlyList<IncomingEvent> events, NpgsqlConnection connection, NpgsqlTransaction transaction, CancellationToken ct)
    {
        var orders = new List<(OrderEvent Order, string Template, string Subject, string Body)>(events.Count);
        foreach (var e in events)
        {
            var order = OrderEvent.FromJson(e.Body.Span);
            if (order.OrderId == Guid.Empty || order.UserId == Guid.Empty || string.IsNullOrEmpty(order.EventId))
                throw new InvalidOperationException($"event {e.MessageId} lacks an order id, user id or event id");
            var (template, subject, body) = Templates.Render(order);
            orders.Add((order, template, subject, body));
        }
        await using var cmd = new NpgsqlCommand("""
            INSERT INTO notifications.notifications (id, event_id, order_id, user_id, namespace, sale, recipient, template, subject, body)
            SELECT * FROM unnest(@ids, @events, @orders, @users, @namespaces, @sales, @recipients, @templates, @subjects, @bodies)
            ON CONFLICT (event_id) DO NOTHING
            """, connection, transaction);
        cmd.Parameters.AddWithValue("ids", orders.Select(_ => Guid.CreateVersion7()).ToArray());
        cmd.Parameters.AddWithValue("events", orders.Select(o => o.Order.EventId).ToArray());
        cmd.Parameters.AddWithValue("orders", orders.Select(o => o.Order.OrderId).ToArray());
        cmd.Parameters.AddWithValue("users", orders.Select(o => o.Order.UserId).ToArray());
        cmd.Parameters.AddWithValue("namespaces", orders.Select(o => o.Order.Namespace).ToArray());
        cmd.Parameters.AddWithValue("sales", orders.Select(o => o.Order.Sale).ToArray());
        cmd.Parameters.AddWithValue("recipients", orders.Select(o => o.Order.BuyerEmail ?? "").ToArray());
        cmd.Parameters.AddWithValue("templates", orders.Select(o => o.Template).ToArray());
        cmd.Parameters.AddWithValue("subjects", orders.Select(o => o.Subject).ToArray());
        cmd.Parameters.AddWithValue("bodies", orders.Select(o => o.Body).ToArray());
        var recorded = await cmd.ExecuteNonQueryAsync(ct);
        if (recorded > 0) logger.LogInformation("{Count} notification(s) recorded, the first {Template} for order {OrderId}", recorded, orders[0].Template, orders[0].Order.OrderId);
    }
}
