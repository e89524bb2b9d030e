using System.Text;
using FlashSale.Messaging;
using FlashSale.TestSupport;
using RabbitMQ.Client;

namespace FlashSale.Orders.Tests;

/// <summary>The PostgreSQL outbox publisher against real PostgreSQL and RabbitMQ.</summary>
public class OutboxTests
{
    static async Task AddAsync(SaleWorld w, string id, string exchange, DateTimeOffset createdAt)
    {
        await using var cmd = w.Db.CreateCommand(
            "INSERT INTO orders.outbox (event_id, exchange, routing_key, payload, created_at) VALUES (@id, @exchange, 'order.reserved', @payload, @at)");
        cmd.Parameters.AddWithValue("id", id);
        cmd.Parameters.AddWithValue("exchange", exchange);
        cmd.Parameters.AddWithValue("payload", Encoding.UTF8.GetBytes("{}"));
        cmd.Parameters.AddWithValue("at", createdAt);
        await cmd.ExecuteNonQueryAsync();
    }

    [Fact]
    public async Task EventsOfAVanishedExchangeAreParkedAndNoLongerBlockTheOthersAndAnotherNamespacesAreLeftAlone()
    {
        await using var w = await SaleWorld.CreateAsync();
        var sale = await w.NewSaleAsync();
        var topology = new SaleTopology(w.Namespace, sale.Name);
        await using var host = w.StartOrders(); // migrates, and runs the outbox publisher
        await Eventually.UntilAsync(async () => await w.ScalarAsync(
            "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'orders' AND table_name = 'outbox' AND column_name = 'parked_at'") == 1,
            "the orders schema is migrated");

        // Older events of a sale whose topology is gone come first in the queue, as they would after a sale was deleted.
        var old = DateTimeOffset.UtcNow.AddMinutes(-10);
        for (var i = 0; i < 3; i++) await AddAsync(w, $"gone-{i}-{w.Namespace}", $"{SaleTopology.NamespacePrefix(w.Namespace)}gone", old.AddSeconds(i));
        for (var i = 0; i < 5; i++) await AddAsync(w, $"live-{i}-{w.Namespace}", topology.Prefix, DateTimeOffset.UtcNow);
        var foreign = "t" + Guid.NewGuid().ToString("N")[..10];
        await AddAsync(w, $"foreign-{w.Namespace}", $"{SaleTopology.NamespacePrefix(foreign)}other", old);

        await Eventually.UntilAsync(async () =>
            await w.ScalarAsync("SELECT count(*) FROM orders.outbox WHERE event_id LIKE 'live-%' AND published_at IS NOT NULL") == 5,
            "the live sale's events are published behind the gone sale's");
        Assert.Equal(3, await w.ScalarAsync(
            "SELECT count(*) FROM orders.outbox WHERE event_id LIKE 'gone-%' AND parked_at IS NOT NULL AND published_at IS NULL AND last_error LIKE '%no exchange%'"));
        Assert.Equal(1, await w.ScalarAsync(
            "SELECT count(*) FROM orders.outbox WHERE event_id LIKE 'foreign-%' AND parked_at IS NULL AND published_at IS NULL"));
        // Parking is visible to the platform team, not only in a log line: a counter by exchange on /metrics.
        using (var http = new HttpClient { BaseAddress = host.BaseAddress })
        {
            var metrics = await http.GetStringAsync("/metrics");
            var line = metrics.Split('\n').SingleOrDefault(l => l.StartsWith("flashsale_orders_outbox_parked_total{", StringComparison.Ordinal)
                && l.Contains($"exchange=\"{SaleTopology.NamespacePrefix(w.Namespace)}gone\"", StringComparison.Ordinal));
            Assert.True(line is not null, "no parked-events counter for the gone exchange on /metrics:\n" + metrics);
            Assert.Equal(3, double.Parse(line.Split(' ')[^1], System.Globalization.CultureInfo.InvariantCulture));
        }

        // The live events really are in the sale's stock queue (bound to order.reserved), each once.
        await using var connection = await new ConnectionFactory { Uri = new Uri(w.RabbitMq) }.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        var ok = await channel.QueueDeclarePassiveAsync($"{topology.Prefix}.stock");
        Assert.Equal(5u, ok.MessageCount);
    }
}
