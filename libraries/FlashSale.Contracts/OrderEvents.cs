using System.Text.Json;
using System.Text.Json.Serialization;

namespace FlashSale.Contracts;

/// <summary>Routing keys and the one event contract of the order life cycle (RabbitMQ message body, JSON).</summary>
public static class OrderEventTypes
{
    public const string Reserved = "order.reserved";
    public const string Paid = "order.paid";
    public const string Expired = "order.expired";

    /// <summary>The event id is derived from the order id, so a republished event keeps its id and consumers dedupe it.</summary>
    public static string EventId(string type, Guid orderId) => type + ":" + orderId.ToString();
}

public sealed record OrderEvent(
    string EventId,
    string Type,
    Guid OrderId,
    string Namespace,
    string Sale,
    Guid UserId,
    string Sku,
    int Quantity,
    decimal UnitPrice,
    string Currency,
    DateTimeOffset OccurredAt,
    DateTimeOffset? PaymentDueAt = null,
    string? BuyerEmail = null)
{
    public byte[] ToJson() => JsonSerializer.SerializeToUtf8Bytes(this, ContractsJsonContext.Default.OrderEvent);
    public static OrderEvent FromJson(ReadOnlySpan<byte> json) =>
        JsonSerializer.Deserialize(json, ContractsJsonContext.Default.OrderEvent) ?? throw new JsonException("empty order event");
}

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(OrderEvent))]
public partial class ContractsJsonContext : JsonSerializerContext;
