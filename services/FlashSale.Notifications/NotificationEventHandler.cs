using FlashSale.Contracts;
using FlashSale.Messaging;

namespace FlashSale.Notifications;

/// <summary>
/// Records one pending notification per order event, in the consumer host's transaction (inbox-deduped; the event id is
/// also unique in the table). Delivery is the dispatcher's job, so a mail outage never holds up or dead-letters the queue;
/// an event that cannot be understood fails here, is retried and ends in the dead-letter queue.
/// </summary>
public sealed class NotificationEventHandler(ILogger<NotificationEventHandler> logger) : IEventHandler
{
    public async Task HandleAsync(IncomingEvent e, NpgsqlConnection connection, NpgsqlTransaction transaction, CancellationToken ct)
    {
        var order = OrderEvent.FromJson(e.Body.Span);
        if (order.OrderId == Guid.Empty || order.UserId == Guid.Empty || string.IsNullOrEmpty(order.EventId))
            throw new InvalidOperationException($"event {e.MessageId} lacks an order id, user id or event id");
        var (template, subject, body) = Templates.Render(order);
        await using var cmd = new NpgsqlCommand("""
            INSERT INTO notifications.notifications (id, event_id, order_id, user_id, namespace, sale, recipient, template, subject, body)
            VALUES (@id, @event, @order, @user, @ns, @sale, @recipient, @template, @subject, @body)
            ON CONFLICT (event_id) DO NOTHING
            """, connection, transaction);
        cmd.Parameters.AddWithValue("id", Guid.CreateVersion7());
        cmd.Parameters.AddWithValue("event", order.EventId);
        cmd.Parameters.AddWithValue("order", order.OrderId);
        cmd.Parameters.AddWithValue("user", order.UserId);
        cmd.Parameters.AddWithValue("ns", order.Namespace);
        cmd.Parameters.AddWithValue("sale", order.Sale);
        cmd.Parameters.AddWithValue("recipient", order.BuyerEmail ?? "");
        cmd.Parameters.AddWithValue("template", template);
        cmd.Parameters.AddWithValue("subject", subject);
        cmd.Parameters.AddWithValue("body", body);
        if (await cmd.ExecuteNonQueryAsync(ct) == 1)
            logger.LogInformation("Notification {Template} for order {OrderId} recorded", template, order.OrderId);
    }
}
