using System.Buffers;
using System.Security.Claims;
using System.Text.Json;
using System.Text.Json.Serialization;
using FlashSale.Orders.Gates;
using FlashSale.Orders.Relay;
using FlashSale.ServiceDefaults;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace FlashSale.Orders.Apis;

public sealed record PlaceOrderRequest(string? Sku, int? Quantity)
{
    /// <summary>
    /// Reads the order's JSON body as minimal APIs' JSON binding would (415 without a JSON content type, 400 on malformed JSON or
    /// a value of the wrong type, an empty body as null), but from the body's bytes at once: the body is a few dozen bytes and
    /// arrives whole, so one synchronous parse replaces the resumable streaming reader and its state machines. The body's size is capped before this runs (Http:MaxRequestBodyBytes).
    /// </summary>
    public static async ValueTask<PlaceOrderRequest?> BindAsync(HttpContext context)
    {
        var request = context.Request;
        if (!request.HasJsonContentType())
            throw new BadHttpRequestException($"Expected a supported JSON media type but got \"{request.ContentType}\".", StatusCodes.Status415UnsupportedMediaType);
        var body = request.BodyReader;
        var read = await body.ReadAsync(context.RequestAborted);
        while (!read.IsCompleted)
        {
            body.AdvanceTo(read.Buffer.Start, read.Buffer.End);
            read = await body.ReadAsync(context.RequestAborted);
        }
        try
        {
            var buffer = read.Buffer;
            if (buffer.IsEmpty) return null;
            return buffer.IsSingleSegment
                ? JsonSerializer.Deserialize(buffer.FirstSpan, OrderRequestJsonContext.Default.PlaceOrderRequest)
                : JsonSerializer.Deserialize(buffer.ToArray(), OrderRequestJsonContext.Default.PlaceOrderRequest);
        }
        catch (JsonException e)
        {
            throw new BadHttpRequestException("Failed to read the request body as JSON.", StatusCodes.Status400BadRequest, e);
        }
        finally
        {
            body.AdvanceTo(read.Buffer.End);
        }
    }
}
public sealed record OrderAccepted(Guid OrderId, string Status, string Sale, string Sku, int Quantity);
public sealed record OrderView(Guid OrderId, string Sale, string Sku, int Quantity, decimal UnitPrice, string Currency, string Status,
    DateTimeOffset CreatedAt, DateTimeOffset PaymentDueAt, DateTimeOffset? PaidAt, DateTimeOffset? ExpiredAt);
public sealed record OrderPage(IReadOnlyList<OrderView> Items, int Page, int PageSize, bool HasMore);

/// <summary>The order body as every other body is read (ServiceDefaults' HTTP JSON options): numbers as numbers, strict strings.</summary>
[JsonSerializable(typeof(PlaceOrderRequest))]
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, NumberHandling = JsonNumberHandling.Strict, Converters = [typeof(StrictStringConverter)])]
public partial class OrderRequestJsonContext : JsonSerializerContext;

[JsonSerializable(typeof(PlaceOrderRequest))]
[JsonSerializable(typeof(OrderAccepted))]
[JsonSerializable(typeof(OrderView))]
[JsonSerializable(typeof(OrderPage))]
[JsonSourceGenerationOptions(System.Text.Json.JsonSerializerDefaults.Web)]
public partial class OrdersJsonContext : JsonSerializerContext;

public sealed class OrderServices(IStockGate gate, NpgsqlDataSource db, IOptions<OrdersOptions> options, OrdersMetrics metrics, OrderWriter writer)
{
    public OrderWriter Writer { get; } = writer;
    public IStockGate Gate { get; } = gate;
    public NpgsqlDataSource Db { get; } = db;
    public OrdersOptions Options { get; } = options.Value;
    public OrdersMetrics Metrics { get; } = metrics;
}

public static class OrdersApi
{
    public const int MaxIdempotencyKeyLength = 100;

    public static IEndpointRouteBuilder MapOrdersApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("api").RequireAuthorization();
        api.MapPost("sales/{sale}/orders", PlaceOrderAsync);
        api.MapGet("orders/{id:guid}", GetOrderAsync).WithName("GetOrder");
        api.MapGet("orders", ListOrdersAsync);
        return app;
    }

    public static async Task<Results<SizedJsonResult<OrderAccepted>, ProblemHttpResult>> PlaceOrderAsync(
        string sale,
        [FromHeader(Name = "Idempotency-Key")] string[]? idempotencyKeys,
        PlaceOrderRequest? body,
        ClaimsPrincipal user,
        [FromServices] OrderServices s,
        CancellationToken ct)
    {
        // Two keys (two headers, or one a proxy joined with a comma) cannot both name this attempt: refuse rather than pick one.
        if (idempotencyKeys is { Length: > 1 } || idempotencyKeys is [var joined] && joined.Contains(','))
            return Problems.ValidationProblem(new Dictionary<string, string[]>
            {
                ["Idempotency-Key"] = ["Exactly one Idempotency-Key header with one key (a key has no commas)."],
            });
        var idempotencyKey = idempotencyKeys is [var key] ? key : null;
        if (string.IsNullOrWhiteSpace(idempotencyKey))
            return Problems.ReasonProblem(400, "IDEMPOTENCY_KEY_REQUIRED", "An Idempotency-Key header is required",
                "Send a unique key per purchase attempt (e.g. a UUID) and reuse it when retrying that attempt.");
        if (idempotencyKey.Length > MaxIdempotencyKeyLength || idempotencyKey.AsSpan().ContainsAnyExceptInRange((char)0x21, (char)0x7e))
            return Problems.ReasonProblem(400, "VALIDATION", "Invalid Idempotency-Key header",
                $"The key must be 1-{MaxIdempotencyKeyLength} visible ASCII characters.");
        var badSku = string.IsNullOrWhiteSpace(body?.Sku) || body.Sku.Length > 64;
        var badQuantity = body?.Quantity is not { } q || q < 1 || q > s.Options.MaxQuantity;
        if (badSku || badQuantity)
        {
            var errors = new Dictionary<string, string[]>();
            if (badSku) errors["sku"] = ["sku is required (1-64 characters)"];
            if (badQuantity) errors["quantity"] = [$"quantity must be between 1 and {s.Options.MaxQuantity}"];
            return Problems.ValidationProblem(errors);
        }
        if (!SaleNames.IsValid(sale)) return Problems.ReasonProblem(404, Reasons.UnknownSale, "Unknown sale", $"There is no sale '{sale}'.");

        var request = new ReserveRequest(s.Options.Namespace, sale, user.GetUserId(), user.FindFirstValue("email"), body!.Sku!, body.Quantity!.Value,
            idempotencyKey, OrderIds.New());
        var result = await s.Gate.ReserveAsync(request, ct);
        s.Metrics.Answer(s.Gate.Name, result.Reason ?? result.Outcome.ToString().ToUpperInvariant());
        if (result.Outcome is ReserveOutcome.Accepted or ReserveOutcome.Replayed)
            return SizedJson.Accepted($"/api/orders/{result.OrderId}",
                new OrderAccepted(result.OrderId, "RESERVED", sale, request.Sku, request.Quantity), OrdersJsonContext.Default.OrderAccepted);
        return result.Reason switch
        {
            Reasons.SoldOut => Problems.ReasonProblem(409, Reasons.SoldOut, "Sold out", $"Not enough '{request.Sku}' left for this order."),
            Reasons.LimitReached => Problems.ReasonProblem(409, Reasons.LimitReached, "Per-user limit reached", $"This order would exceed your limit for '{request.Sku}'."),
            Reasons.NotStarted => Problems.ReasonProblem(409, Reasons.NotStarted, "The sale has not started",
                long.TryParse(result.Detail, out var ms) ? $"The sale opens at {DateTimeOffset.FromUnixTimeMilliseconds(ms):O}." : null),
            Reasons.Ended => Problems.ReasonProblem(410, Reasons.Ended, "The sale has ended"),
            Reasons.UnknownSku => Problems.ReasonProblem(422, Reasons.UnknownSku, "Unknown product", $"Sale '{sale}' has no product '{request.Sku}'."),
            Reasons.UnknownSale => Problems.ReasonProblem(404, Reasons.UnknownSale, "Unknown sale", $"There is no sale '{sale}'."),
            Reasons.IdempotencyMismatch => Problems.ReasonProblem(422, Reasons.IdempotencyMismatch, "Idempotency-Key reused with a different request",
                "This key was already used for another order body; use a new key for a new purchase."),
            Reasons.Contention => Problems.ReasonProblem(409, Reasons.Contention, "Too much contention, try again"),
            _ => Problems.ReasonProblem(500, "INTERNAL", "Unexpected gate answer"),
        };
    }

    /// <summary>
    /// The order from PostgreSQL or, while the relay has not written it yet, from the sale's stream in Redis (as RESERVED: no
    /// payment or expiry can have touched an order that is not in PostgreSQL), so that a 202's Location answers at once.
    /// </summary>
    public static async Task<Results<Ok<OrderView>, ProblemHttpResult>> GetOrderAsync(Guid id, ClaimsPrincipal user, [FromServices] OrderServices s, CancellationToken ct)
    {
        var userId = user.GetUserId();
        if (await ReadOrderAsync(s, id, userId, ct) is { } stored) return TypedResults.Ok(stored);
        if (await s.Writer.FindPendingAsync(id) is { } p && p.Entry.UserId == userId)
            return TypedResults.Ok(new OrderView(id, p.Keys.Sale, p.Entry.Sku, p.Entry.Quantity, p.Entry.UnitPrice, OrderWriter.Currency(p.Sale), "RESERVED",
                p.Entry.ReservedAt, OrderWriter.DueAt(p.Entry, p.Sale), null, null));
        // The relay may have written and trimmed it between the two reads.
        if (await ReadOrderAsync(s, id, userId, ct) is { } relayed) return TypedResults.Ok(relayed);
        // Another user's order is indistinguishable from a missing one.
        return Problems.ReasonProblem(404, "ORDER_NOT_FOUND", "Order not found", "No such order for this user.");
    }

    static async Task<OrderView?> ReadOrderAsync(OrderServices s, Guid id, Guid userId, CancellationToken ct)
    {
        await using var cmd = s.Db.CreateCommand($"{Select} WHERE order_id = @id AND user_id = @user");
        cmd.Parameters.AddWithValue("id", id);
        cmd.Parameters.AddWithValue("user", userId);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        return await reader.ReadAsync(ct) ? Read(reader) : null;
    }

    public static async Task<Results<Ok<OrderPage>, ProblemHttpResult>> ListOrdersAsync(ClaimsPrincipal user, [FromServices] OrderServices s, CancellationToken ct,
        int page = 1, int pageSize = 20)
    {
        if (page < 1 || pageSize < 1 || pageSize > s.Options.MaxPageSize)
            return Problems.ValidationProblem(new Dictionary<string, string[]> { ["page"] = [$"page >= 1 and 1 <= pageSize <= {s.Options.MaxPageSize}"] });
        await using var cmd = s.Db.CreateCommand($"{Select} WHERE user_id = @user ORDER BY created_at DESC, order_id DESC LIMIT @limit OFFSET @offset");
        cmd.Parameters.AddWithValue("user", user.GetUserId());
        cmd.Parameters.AddWithValue("limit", pageSize + 1);
        cmd.Parameters.AddWithValue("offset", (long)(page - 1) * pageSize);
        var items = new List<OrderView>();
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct)) items.Add(Read(reader));
        var more = items.Count > pageSize;
        return TypedResults.Ok(new OrderPage(more ? items[..pageSize] : items, page, pageSize, more));
    }

    const string Select = """
        SELECT order_id, sale, sku, quantity, unit_price, currency, status, created_at, payment_due_at, paid_at, expired_at FROM orders.orders
        """;

    static OrderView Read(NpgsqlDataReader r) => new(r.GetGuid(0), r.GetString(1), r.GetString(2), r.GetInt32(3), r.GetDecimal(4), r.GetString(5), r.GetString(6),
        r.GetFieldValue<DateTimeOffset>(7), r.GetFieldValue<DateTimeOffset>(8),
        r.IsDBNull(9) ? null : r.GetFieldValue<DateTimeOffset>(9), r.IsDBNull(10) ? null : r.GetFieldValue<DateTimeOffset>(10));
}
