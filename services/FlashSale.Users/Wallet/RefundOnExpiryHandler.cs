using FlashSale.Contracts;
using FlashSale.Messaging;
using FlashSale.Sales;
using FlashSale.Users.Extensions;
using Npgsql;

namespace FlashSale.Users.Wallet;

/// <summary>
/// Gives the money back for an order that expired after its wallet was debited: the rare case where a payment's debit
/// went through but the orders service never marked the order paid (it crashed, or the buyer's retry never came) and the
/// payment lease and the due time then lapsed, so expiry returned the units to stock. The users service consumes the
/// sale's <c>order.expired</c> events (queue <c>&lt;prefix&gt;.users</c>); for each, if its ledger holds a debit under that
/// order id, it credits the same amount to the same wallet with a <c>refund</c> row, in the consumer host's transaction
/// (inbox-deduped; the order id is unique per kind, so an order is refunded at most once whatever is redelivered).
/// An expired order that was never debited (the usual case) changes nothing.
/// </summary>
public sealed class RefundOnExpiryHandler(UsersMetrics metrics, ILogger<RefundOnExpiryHandler> logger) : IEventHandler
{
    public async Task HandleAsync(IReadOnlyList<IncomingEvent> events, NpgsqlConnection connection, NpgsqlTransaction transaction, CancellationToken ct)
    {
        foreach (var e in events) await RefundAsync(e, connection, transaction, ct);
    }

    async Task RefundAsync(IncomingEvent e, NpgsqlConnection connection, NpgsqlTransaction transaction, CancellationToken ct)
    {
        if (e.RoutingKey != OrderEventTypes.Expired) return; // the queue is bound to order.expired only; anything else is not ours
        var order = OrderEvent.FromJson(e.Body.Span);
        if (order.OrderId == Guid.Empty) throw new InvalidOperationException($"event {e.MessageId} lacks an order id");
        await using var cmd = new NpgsqlCommand("""
            WITH debit AS (
                SELECT user_id, -amount AS amount FROM users.wallet_ledger WHERE order_id = $1 AND kind = 'debit'
            ), credited AS (
                UPDATE users.wallets w SET balance = w.balance + d.amount, updated_at = now()
                FROM debit d
                WHERE w.user_id = d.user_id
                  AND NOT EXISTS (SELECT 1 FROM users.wallet_ledger WHERE order_id = $1 AND kind = 'refund')
                RETURNING w.user_id, w.balance, w.currency, d.amount
            )
            INSERT INTO users.wallet_ledger (user_id, kind, amount, balance_after, currency, order_id)
            SELECT user_id, 'refund', amount, balance, currency, $1 FROM credited
            RETURNING user_id, amount, currency
            """, connection, transaction);
        cmd.Parameters.Add(new() { Value = order.OrderId });
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        if (!await reader.ReadAsync(ct)) return;
        var (userId, amount, currency) = (reader.GetGuid(0), reader.GetDecimal(1), reader.GetString(2));
        metrics.Refund();
        if (userId != order.UserId)
            logger.LogWarning("Refunded order {OrderId} to the wallet it was debited from ({UserId}), not the event's user {EventUserId}",
                order.OrderId, userId, order.UserId);
        logger.LogWarning("Refunded {Amount} {Currency} to {UserId}: order {OrderId} expired after its debit", amount, currency, userId, order.OrderId);
    }
}
