using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace FlashSale.Messaging;

/// <summary>An event to publish. <see cref="MessageId"/> is the event id consumers dedupe on.</summary>
/// <param name="MessageId">Unique, stable event id (the same id when the event is published again).</param>
/// <param name="Type">Event type, e.g. <c>order.reserved</c> (AMQP <c>type</c> property).</param>
/// <param name="Body">UTF-8 JSON body.</param>
/// <param name="Headers">Optional application headers.</param>
public sealed record OutgoingEvent(string MessageId, string Type, ReadOnlyMemory<byte> Body, IReadOnlyDictionary<string, object?>? Headers = null)
{
    public static OutgoingEvent Json<T>(string messageId, string type, T value, JsonTypeInfo<T> typeInfo, IReadOnlyDictionary<string, object?>? headers = null) =>
        new(messageId, type, JsonSerializer.SerializeToUtf8Bytes(value, typeInfo), headers);

    public static OutgoingEvent Json<T>(string messageId, string type, T value, JsonSerializerOptions? options = null, IReadOnlyDictionary<string, object?>? headers = null) =>
        new(messageId, type, JsonSerializer.SerializeToUtf8Bytes(value, options), headers);
}

/// <summary>A delivered event as a handler sees it.</summary>
/// <param name="MessageId">Event id (already recorded in the inbox inside the handler's transaction).</param>
/// <param name="Type">AMQP <c>type</c> property, if any.</param>
/// <param name="Exchange">Exchange it was last routed through.</param>
/// <param name="RoutingKey">Routing key it was last routed with (e.g. <c>order.expiry-due</c> after the expiry wait).</param>
/// <param name="Body">The body (a copy, valid after the handler returns).</param>
/// <param name="Headers">Application headers; AMQP strings are decoded to <see cref="string"/>.</param>
/// <param name="Attempt">1 for the first delivery, incremented by every redelivery (quorum queue <c>x-delivery-count</c> + 1).</param>
public sealed record IncomingEvent(
    string MessageId, string? Type, string Exchange, string RoutingKey, ReadOnlyMemory<byte> Body,
    IReadOnlyDictionary<string, object?> Headers, int Attempt)
{
    public T Deserialize<T>(JsonTypeInfo<T> typeInfo) =>
        JsonSerializer.Deserialize(Body.Span, typeInfo) ?? throw new JsonException($"Event {MessageId} has a null body");

    public T Deserialize<T>(JsonSerializerOptions? options = null) =>
        JsonSerializer.Deserialize<T>(Body.Span, options ?? JsonSerializerOptions.Web) ?? throw new JsonException($"Event {MessageId} has a null body");

    public string? GetHeaderString(string name) => Headers.TryGetValue(name, out var v) ? v switch
    {
        null => null,
        string s => s,
        byte[] b => Encoding.UTF8.GetString(b),
        _ => Convert.ToString(v, System.Globalization.CultureInfo.InvariantCulture),
    } : null;
}

/// <summary>Routing keys carried by a sale's exchange.</summary>
public static class EventRoutingKeys
{
    public const string OrderReserved = "order.reserved";
    public const string OrderPaid = "order.paid";
    public const string OrderExpired = "order.expired";
    /// <summary>Key an <c>order.reserved</c> event gets when it leaves the expiry wait queue after the payment timeout.</summary>
    public const string OrderExpiryDue = "order.expiry-due";
}
