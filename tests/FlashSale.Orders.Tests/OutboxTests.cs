using System.Text;
using FlashSale.Messaging;
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
    public async Task EventsOfAVanishedExchangeAreParkedWithoutBlockingOthersOrOtherNamespacesAndAnAdminRequeuesThem()
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
        Assert.Equal(Enumerable.Range(0, 5).Select(i => $"live-{i}-{w.Namespace}"), (await QueuedEvents.TakeIdsAsync(channel, $"{topology.Prefix}.stock")).Order());

        // An admin sees the parked events by exchange (this namespace's only) and, once the exchange exists again, hands them
        // back to the publisher, which now publishes them.
        var gone = $"{SaleTopology.NamespacePrefix(w.Namespace)}gone";
        using var admin = host.Client();
        admin.DefaultRequestHeaders.Authorization = new("Bearer", TestTokens.Mint(Guid.NewGuid(), admin: true));
        var parked = JsonDocument.Parse(await admin.GetStringAsync("/api/admin/outbox/parked")).RootElement.GetProperty("exchanges");
        var only = Assert.Single(parked.EnumerateArray());
        Assert.Equal((gone, 3), (only.GetProperty("exchange").GetString(), only.GetProperty("events").GetInt32()));
        Assert.Contains("no exchange", only.GetProperty("lastError").GetString());

        using var buyer = host.Client();
        buyer.DefaultRequestHeaders.Authorization = new("Bearer", TestTokens.Mint(Guid.NewGuid()));
        Assert.Equal(HttpStatusCode.Forbidden, (await buyer.GetAsync("/api/admin/outbox/parked")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await buyer.PostAsJsonAsync("/api/admin/outbox/parked/requeue", new { exchange = gone })).StatusCode);
        using (var missing = await admin.PostAsJsonAsync("/api/admin/outbox/parked/requeue", new { }))
        {
            Assert.Equal(HttpStatusCode.BadRequest, missing.StatusCode);
            Assert.Contains("VALIDATION", await missing.Content.ReadAsStringAsync());
        }
        using (var other = await admin.PostAsJsonAsync("/api/admin/outbox/parked/requeue", new { exchange = $"{SaleTopology.NamespacePrefix(foreign)}other" }))
            Assert.Equal(HttpStatusCode.NotFound, other.StatusCode);
        Assert.Equal(1, await w.ScalarAsync("SELECT count(*) FROM orders.outbox WHERE event_id LIKE 'foreign-%' AND parked_at IS NULL AND published_at IS NULL"));

        // The exchange back (as when the sale is declared again), with a queue: the publisher sends mandatory messages.
        await channel.ExchangeDeclareAsync(gone, ExchangeType.Topic, durable: false, autoDelete: true);
        var back = await channel.QueueDeclareAsync("", durable: false, exclusive: true, autoDelete: true);
        await channel.QueueBindAsync(back.QueueName, gone, "#");
        var requeued = JsonDocument.Parse(await (await admin.PostAsJsonAsync("/api/admin/outbox/parked/requeue", new { exchange = gone })).Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(3, requeued.GetProperty("requeued").GetInt32());
        await Eventually.UntilAsync(async () =>
            await w.ScalarAsync("SELECT count(*) FROM orders.outbox WHERE event_id LIKE 'gone-%' AND published_at IS NOT NULL") == 3,
            "the requeued events are published once their exchange exists");
        Assert.Empty(JsonDocument.Parse(await admin.GetStringAsync("/api/admin/outbox/parked")).RootElement.GetProperty("exchanges").EnumerateArray());
        Assert.Equal(Enumerable.Range(0, 3).Select(i => $"gone-{i}-{w.Namespace}"), (await QueuedEvents.TakeIdsAsync(channel, back.QueueName)).Order());
        await channel.ExchangeDeleteAsync(gone);
    }
}
