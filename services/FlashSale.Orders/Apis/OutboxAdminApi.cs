using System.Text.Json.Serialization;
using FlashSale.ServiceDefaults;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace FlashSale.Orders.Apis;

public sealed record ParkedExchange(string Exchange, long Events, DateTimeOffset FirstParkedAt, DateTimeOffset LastParkedAt, string? LastError);
public sealed record ParkedOutbox(IReadOnlyList<ParkedExchange> Exchanges);
public sealed record RequeueRequest(string? Exchange);
public sealed record RequeueResult(string Exchange, long Requeued);

[JsonSerializable(typeof(ParkedOutbox))]
[JsonSerializable(typeof(RequeueRequest))]
[JsonSerializable(typeof(RequeueResult))]
[JsonSourceGenerationOptions(System.Text.Json.JsonSerializerDefaults.Web)]
public partial class OutboxAdminJsonContext : JsonSerializerContext;

/// <summary>
/// Admin view of this namespace's parked outbox events (events whose exchange no longer existed when they were published,
/// see <see cref="Relay.OutboxPublisher"/>; counted by <c>flashsale_orders_outbox_parked_total</c>):
/// GET /api/admin/outbox/parked lists them by exchange; POST /api/admin/outbox/parked/requeue {"exchange": ...} hands an
/// exchange's parked events back to the publisher (after the exchange was declared again, e.g. the sale re-created), which
/// publishes them, or parks them again if the exchange is still missing. Admin role only; another namespace's events are
/// neither shown nor touched.
/// </summary>
public static class OutboxAdminApi
{
    public static IEndpointRouteBuilder MapOutboxAdminApi(this IEndpointRouteBuilder app)
    {
        var admin = app.MapGroup("api/admin/outbox").RequireAuthorization(p => p.RequireClaim(JwtClaims.Role, JwtClaims.AdminRole));
        admin.MapGet("parked", ListParkedAsync);
        admin.MapPost("parked/requeue", RequeueAsync);
        return app;
    }

    public static async Task<Ok<ParkedOutbox>> ListParkedAsync([FromServices] NpgsqlDataSource db, [FromServices] IOptions<OrdersOptions> options, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand("""
            SELECT exchange, count(*), min(parked_at), max(parked_at),
                   (array_agg(last_error ORDER BY parked_at DESC))[1]
            FROM orders.outbox
            WHERE parked_at IS NOT NULL AND published_at IS NULL AND starts_with(exchange, @prefix)
            GROUP BY exchange ORDER BY exchange
            """);
        cmd.Parameters.AddWithValue("prefix", SaleTopology.NamespacePrefix(options.Value.Namespace));
        var exchanges = new List<ParkedExchange>();
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
            exchanges.Add(new ParkedExchange(reader.GetString(0), reader.GetInt64(1), reader.GetFieldValue<DateTimeOffset>(2), reader.GetFieldValue<DateTimeOffset>(3),
                reader.IsDBNull(4) ? null : reader.GetString(4)));
        return TypedResults.Ok(new ParkedOutbox(exchanges));
    }

    public static async Task<Results<Ok<RequeueResult>, ProblemHttpResult>> RequeueAsync(RequeueRequest? body, [FromServices] NpgsqlDataSource db,
        [FromServices] IOptions<OrdersOptions> options, CancellationToken ct)
    {
        var prefix = SaleTopology.NamespacePrefix(options.Value.Namespace);
        if (string.IsNullOrWhiteSpace(body?.Exchange) || body.Exchange.Length > 255)
            return Problems.ValidationProblem(new Dictionary<string, string[]> { ["exchange"] = ["exchange is required (the name listed by GET /api/admin/outbox/parked)"] });
        if (!body.Exchange.StartsWith(prefix, StringComparison.Ordinal))
            return Problems.ReasonProblem(404, "UNKNOWN_EXCHANGE", "Not an exchange of this namespace",
                $"This orders service publishes to exchanges starting with '{prefix}'.");
        await using var cmd = db.CreateCommand("""
            UPDATE orders.outbox SET parked_at = NULL
            WHERE exchange = @exchange AND parked_at IS NOT NULL AND published_at IS NULL
            """);
        cmd.Parameters.AddWithValue("exchange", body.Exchange);
        var requeued = await cmd.ExecuteNonQueryAsync(ct);
        return TypedResults.Ok(new RequeueResult(body.Exchange, requeued));
    }
}
