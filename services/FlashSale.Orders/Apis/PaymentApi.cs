using System.Globalization;
using System.Security.Claims;
using FlashSale.Orders.Payments;
using FlashSale.Orders.Relay;
using FlashSale.ServiceDefaults;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace FlashSale.Orders.Apis;

public sealed class PaymentServices(NpgsqlDataSource db, UsersWallet wallet, OrderWriter writer, IOptions<OrdersOptions> options, ILogger<PaymentServices> logger)
{
    public OrderWriter Writer { get; } = writer;
    public NpgsqlDataSource Db { get; } = db;
    public UsersWallet Wallet { get; } = wallet;
    public OrdersOptions Options { get; } = options.Value;
    public ILogger Logger { get; } = logger;
}

/// <summary>
/// POST /api/orders/{id}/payment. Steps, each safe to repeat:
/// 1. lease: RESERVED and not yet due (or already being paid) -> payment_started_at = now(); expiry skips leased orders,
///    so an order is never expired while its debit may be in flight (the lease outlives the users call's total timeout);
/// 2. debit the buyer's wallet with the buyer's token, the order id as idempotency key (a retry replays, never debits twice);
/// 3. RESERVED -> PAID and order.paid into the outbox in one transaction; a concurrent payer that lost sees PAID and answers alike.
/// A crash between 2 and 3 leaves a RESERVED, leased order whose debit a retry completes. Only when nobody retries before the
/// lease and the due time have both passed does expiry win over a recorded debit; the users service then gives the money
/// back when it consumes the order's order.expired event (once per order; see FlashSale.Users RefundOnExpiryHandler).
/// </summary>
public static class PaymentApi
{
    public static IEndpointRouteBuilder MapPaymentApi(this IEndpointRouteBuilder app)
    {
        app.MapGroup("api").RequireAuthorization().MapPost("orders/{id:guid}/payment", PayAsync);
        return app;
    }

    public static async Task<Results<Ok<OrderView>, ProblemHttpResult>> PayAsync(Guid id, ClaimsPrincipal user, HttpContext http,
        [FromServices] PaymentServices s, CancellationToken ct)
    {
        var userId = user.GetUserId();
        // The lease and, when it is refused, the order as it is, in one statement: one snapshot. As two statements, an order
        // the relay inserted between them was found RESERVED after the lease missed it, and answered EXPIRED while payable.
        OrderRow? order = null, current = null;
        for (var attempt = 0; order is null; attempt++)
        {
            await using (var lease = s.Db.CreateCommand($"""
                WITH leased AS (
                    UPDATE orders.orders SET payment_started_at = now()
                    WHERE order_id = @id AND user_id = @user AND status = 'RESERVED' AND (payment_due_at > now() OR payment_started_at IS NOT NULL)
                    RETURNING {OrderRow.Columns}
                )
                SELECT {OrderRow.Columns}, true FROM leased
                UNION ALL
                SELECT {OrderRow.Columns}, false FROM orders.orders WHERE order_id = @id AND user_id = @user AND NOT EXISTS (SELECT 1 FROM leased)
                """))
            {
                lease.Parameters.AddWithValue("id", id);
                lease.Parameters.AddWithValue("user", userId);
                await using var reader = await lease.ExecuteReaderAsync(ct);
                current = null;
                if (await reader.ReadAsync(ct))
                {
                    if (reader.GetBoolean(15)) order = OrderRow.Read(reader);
                    else current = OrderRow.Read(reader);
                }
            }
            if (order is not null) break;
            // Not in PostgreSQL: an order the relay has not written yet is written now (once: the order id is the key), then leased.
            if (current is null && attempt == 0 && await s.Writer.FindPendingAsync(id) is { } pending && pending.Entry.UserId == userId)
            {
                await s.Writer.WriteOneAsync(pending.Keys, pending.Entry, pending.Sale, ct);
                continue;
            }
            // Refused yet RESERVED and not due: a concurrent payment or expiry changed the row after this statement's
            // snapshot (the lease saw the new version, the read the old one). Look again with a new snapshot.
            if (current is not { Status: "RESERVED" } || current.PaymentDueAt <= DateTimeOffset.UtcNow) return Settled(current, http);
            if (attempt == 2) return await AnswerSettledAsync(id, userId, http, s, ct);
        }

        var debit = await s.Wallet.DebitAsync(order.OrderId, order.Amount, order.Currency, http.Request.Headers.Authorization.ToString(), ct);
        switch (debit.Outcome)
        {
            case DebitOutcome.InsufficientFunds:
                return Problems.ReasonProblem(409, "INSUFFICIENT_FUNDS", "Insufficient funds",
                    (debit.Detail is null ? "" : debit.Detail + " ") + "The order stays reserved until its payment is due; top up and pay again.");
            case DebitOutcome.Rejected:
                return Problems.ReasonProblem(debit.Status is >= 400 and < 500 ? debit.Status : 502, debit.Reason ?? "PAYMENT_REJECTED",
                    "The wallet refused the debit", debit.Detail);
            case DebitOutcome.Unavailable:
                http.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(debit.RetryAfter.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
                return Problems.ReasonProblem(503, debit.Reason ?? "PAYMENT_UNAVAILABLE", "Payment is unavailable, try again",
                    (debit.Detail is null ? "" : debit.Detail + " ") + "Nothing was charged twice: retrying pays the order at most once.");
        }

        await using var c = await s.Db.OpenConnectionAsync(ct);
        await using var tx = await c.BeginTransactionAsync(ct);
        OrderRow? paid = null;
        await using (var update = new NpgsqlCommand($"""
            UPDATE orders.orders SET status = 'PAID', paid_at = now() WHERE order_id = @id AND status = 'RESERVED'
            RETURNING {OrderRow.Columns}
            """, c, tx))
        {
            update.Parameters.AddWithValue("id", id);
            await using var reader = await update.ExecuteReaderAsync(ct);
            if (await reader.ReadAsync(ct)) paid = OrderRow.Read(reader);
        }
        if (paid is null)
        {
            await tx.RollbackAsync(ct);
            return await AnswerSettledAsync(id, userId, http, s, ct, debited: true);
        }
        await OrderOutbox.AddAsync(c, tx, [paid.ToEvent(OrderEventTypes.Paid, paid.PaidAt!.Value)], ct);
        await tx.CommitAsync(ct);
        s.Logger.LogInformation("Order {OrderId} paid: {Amount} {Currency} debited from {UserId}", id, paid.Amount, paid.Currency, userId);
        return TypedResults.Ok(paid.ToView());
    }

    /// <summary>The answer for an order that could not be leased: paid (the same 200), expired, or none (not the caller's, or no such order).</summary>
    static async Task<Results<Ok<OrderView>, ProblemHttpResult>> AnswerSettledAsync(Guid id, Guid userId, HttpContext http, PaymentServices s,
        CancellationToken ct, bool debited = false)
    {
        await using var cmd = s.Db.CreateCommand($"SELECT {OrderRow.Columns} FROM orders.orders WHERE order_id = @id AND user_id = @user");
        cmd.Parameters.AddWithValue("id", id);
        cmd.Parameters.AddWithValue("user", userId);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        var order = await reader.ReadAsync(ct) ? OrderRow.Read(reader) : null;
        if (debited && order is { Status: not "PAID" })
            s.Logger.LogCritical("Order {OrderId} was debited but is {Status}: refund {Amount} {Currency} to {UserId}",
                id, order.Status, order.Amount, order.Currency, userId);
        return Settled(order, http);
    }

    /// <summary>
    /// A paid order answers as paid; one that is neither paid nor leasable is past its due time (expired, or about to be by
    /// the sweep); none is not the caller's or does not exist (one still in the stream was written before the lease).
    /// </summary>
    static Results<Ok<OrderView>, ProblemHttpResult> Settled(OrderRow? order, HttpContext http)
    {
        if (order is null)
        {
            // Another user's order answers as a missing one, Retry-After included, so that the answer tells nothing about it.
            http.Response.Headers.RetryAfter = "1";
            return Problems.ReasonProblem(404, "ORDER_NOT_FOUND", "Order not found", "No such order for this user.");
        }
        if (order.Status == "PAID") return TypedResults.Ok(order.ToView());
        return Problems.ReasonProblem(409, "EXPIRED", "The order has expired",
            $"The payment was due at {order.PaymentDueAt:O}; its units went back on sale.");
    }
}
