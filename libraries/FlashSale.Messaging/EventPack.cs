using System.Buffers;
using System.Text.Json;

namespace FlashSale.Messaging;

/// <summary>
/// Several events in one message: a JSON array of <c>{"id": ..., "type": ..., "body": {...}}</c> with content type
/// <see cref="ContentType"/>. A relay batch travels as one pack, so the broker stores and confirms one message per queue
/// instead of one per order, and a consumer applies the batch in one transaction.
/// </summary>
public static class EventPack
{
    public const string ContentType = "application/vnd.flashsale.event-pack+json";

    /// <summary>The pack as one event; its id names the first event and the count (for logs; consumers dedupe the events inside).</summary>
    public static OutgoingEvent Pack(string type, IReadOnlyList<OutgoingEvent> events)
    {
        var buffer = new ArrayBufferWriter<byte>(events.Sum(e => e.Body.Length + e.MessageId.Length + 40) + 2);
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { SkipValidation = true }))
        {
            w.WriteStartArray();
            foreach (var e in events)
            {
                w.WriteStartObject();
                w.WriteString("id", e.MessageId);
                w.WriteString("type", e.Type);
                w.WritePropertyName("body");
                w.WriteRawValue(e.Body.Span, skipInputValidation: true);
                w.WriteEndObject();
            }
            w.WriteEndArray();
        }
        return new OutgoingEvent($"pack:{events[0].MessageId}+{events.Count - 1}", type, buffer.WrittenMemory.ToArray(),
            new Dictionary<string, object?> { [CountHeader] = events.Count });
    }

    /// <summary>Header carrying the number of events in a pack.</summary>
    public const string CountHeader = "x-event-count";

    /// <summary>The events of a pack; throws <see cref="JsonException"/> when it is not one.</summary>
    public static List<(string Id, string? Type, byte[] Body)> Unpack(ReadOnlySpan<byte> body)
    {
        var reader = new Utf8JsonReader(body);
        var events = new List<(string, string?, byte[])>();
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartArray) throw new JsonException("an event pack is a JSON array");
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType != JsonTokenType.StartObject) throw new JsonException("an event of a pack is a JSON object");
            string? id = null, type = null;
            byte[]? payload = null;
            while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
            {
                var name = reader.GetString();
                reader.Read();
                switch (name)
                {
                    case "id": id = reader.GetString(); break;
                    case "type": type = reader.GetString(); break;
                    case "body":
                        var start = (int)reader.TokenStartIndex;
                        reader.Skip();
                        payload = body[start..(int)reader.BytesConsumed].ToArray();
                        break;
                    default: reader.Skip(); break;
                }
            }
            if (string.IsNullOrEmpty(id) || payload is null) throw new JsonException("an event of a pack lacks its id or body");
            events.Add((id, type, payload));
        }
        if (reader.Read()) throw new JsonException("trailing data after an event pack");
        return events;
    }
}
