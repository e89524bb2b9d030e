using FlashSale.Messaging;
using RabbitMQ.Client;

namespace FlashSale.TestSupport;

/// <summary>What publishers left in a queue, counted in events: a message is one event or an event pack of several.</summary>
public static class QueuedEvents
{
    /// <summary>Takes every message off <paramref name="queue"/> and returns the ids of the events they carry, in order.</summary>
    public static async Task<List<string>> TakeIdsAsync(IChannel channel, string queue)
    {
        var ids = new List<string>();
        while (await channel.BasicGetAsync(queue, autoAck: true) is { } message)
        {
            if (message.BasicProperties.ContentType == EventPack.ContentType) ids.AddRange(EventPack.Unpack(message.Body.Span).Select(e => e.Id));
            else ids.Add(message.BasicProperties.MessageId!);
        }
        return ids;
    }

    /// <summary><see cref="TakeIdsAsync(IChannel, string)"/> on a connection of its own.</summary>
    public static async Task<List<string>> TakeIdsAsync(string rabbitMq, string queue)
    {
        await using var connection = await new ConnectionFactory { Uri = new Uri(rabbitMq) }.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        return await TakeIdsAsync(channel, queue);
    }
}
