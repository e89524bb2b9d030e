using System.Net;
using System.Text;

namespace FlashSale.Notifications.Tests;

public class NotificationTests : IAsyncLifetime
{
    NotificationsWorld _world = null!;

    public async Task InitializeAsync() => _world = await NotificationsWorld.CreateAsync();
    public async Task DisposeAsync() => await _world.DisposeAsync();

    [Fact]
    public async Task EachOrderEventMakesOneNotificationEvenWhenDeliveredTwiceAndBuyersSeeOnlyTheirOwn()
    {
        var host = _world.Start();
        Guid buyer = Guid.NewGuid(), other = Guid.NewGuid(), paidOrder = Guid.NewGuid(), expiredOrder = Guid.NewGuid();
        var events = new[]
        {
            _world.Event(OrderEventTypes.Reserved, paidOrder, buyer, "buyer@example.com"),
            _world.Event(OrderEventTypes.Paid, paidOrder, buyer, "buyer@example.com"),
            _world.Event(OrderEventTypes.Reserved, expiredOrder, buyer, null),
            _world.Event(OrderEventTypes.Expired, expiredOrder, buyer, null),
        };
        foreach (var e in events) await _world.PublishAsync(e);
        foreach (var e in events) await _world.PublishAsync(e); // redelivery: same event ids
        // A republished event under another message id is still the same event.
        await _world.PublishRawAsync("republished-" + Guid.NewGuid(), OrderEventTypes.Paid, events[1].ToJson());

        await Eventually.UntilAsync(async () => (await _world.RowsAsync()).Count(r => r.Status == "sent") == 4, "four notifications are sent");
        await Task.Delay(500);
        var rows = await _world.RowsAsync();
        Assert.Equal(4, rows.Count);
        Assert.Equal(["order-expired", "order-paid", "order-reserved", "order-reserved"], rows.Select(r => r.Template).Order());
        Assert.All(rows, r => Assert.Equal(1, r.Attempts));

        using var mine = host.Client(TestTokens.Mint(buyer));
        var page = NotificationsWorld.Json(await mine.GetStringAsync("/api/notifications"));
        Assert.Equal(4, page.GetProperty("items").GetArrayLength());
        using var theirs = host.Client(TestTokens.Mint(other));
        Assert.Equal(0, NotificationsWorld.Json(await theirs.GetStringAsync("/api/notifications")).GetProperty("items").GetArrayLength());
        using var anonymous = new HttpClient { BaseAddress = host.BaseAddress };
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/api/notifications")).StatusCode);
    }

    [Fact]
    public async Task SmtpDeliveryReachesTheServerAndWaitsOutItsOutage()
    {
        await using var smtp = new TestSmtpServer();
        smtp.Start();
        _world.Start(s =>
        {
            s["Notifications:Delivery"] = "smtp";
            s["Notifications:Smtp:Host"] = "127.0.0.1";
            s["Notifications:Smtp:Port"] = smtp.Port.ToString();
            s["Notifications:Smtp:Security"] = "none";
            s["Notifications:Smtp:Timeout"] = "00:00:03";
        });
        Guid buyer = Guid.NewGuid(), order = Guid.NewGuid();
        await _world.PublishAsync(_world.Event(OrderEventTypes.Reserved, order, buyer, "buyer@example.com"));
        await Eventually.UntilAsync(async () => (await _world.RowsAsync()).Any(r => r.Status == "sent"), "the reservation mail is sent");
        var first = Assert.Single(smtp.Messages);
        Assert.Contains("To: buyer@example.com", first);
        Assert.Contains($"Subject: Order {order} reserved", first);

        await smtp.StopAsync();
        await _world.PublishAsync(_world.Event(OrderEventTypes.Paid, order, buyer, "buyer@example.com"));
        await Eventually.UntilAsync(async () => (await _world.RowsAsync()).Any(r => r.Template == "order-paid" && r.Attempts >= 3),
            "the paid mail failed a few times");
        var waiting = (await _world.RowsAsync()).Single(r => r.Template == "order-paid");
        Assert.Equal("pending", waiting.Status);
        Assert.NotNull(waiting.LastError);

        smtp.Start();
        await Eventually.UntilAsync(async () => (await _world.RowsAsync()).All(r => r.Status == "sent"), "the paid mail is sent once the server is back");
        Assert.Contains(smtp.Messages, m => m.Contains($"Subject: Order {order} paid"));
        Assert.Equal(2, smtp.Messages.Count);
    }

    [Fact]
    public async Task APoisonMessageEndsInTheDeadLetterQueueAfterItsRetriesWithoutBlockingTheQueue()
    {
        _world.Start(s => s["RabbitMq:Consumers:NotificationEventHandler:MaxAttempts"] = "3");
        var poisonId = "poison-" + Guid.NewGuid();
        await _world.PublishRawAsync(poisonId, "order.reserved", Encoding.UTF8.GetBytes("""{"type":"order.shipped","orderId":"not-a-guid"}"""));
        var order = Guid.NewGuid();
        await _world.PublishAsync(_world.Event(OrderEventTypes.Reserved, order, Guid.NewGuid(), null));

        await Eventually.UntilAsync(async () => (await _world.RowsAsync()).Any(r => r.OrderId == order), "the good event behind the poison one is recorded");
        var dlq = SaleTopology.DeadLetterQueueOf(_world.Topology.NotificationsQueue);
        await using var channel = await _world.Rabbit.CreateChannelAsync();
        await Eventually.UntilAsync(async () => (await channel.QueueDeclarePassiveAsync(dlq)).MessageCount == 1, "the poison message is dead-lettered");
        var dead = await channel.BasicGetAsync(dlq, autoAck: false);
        Assert.NotNull(dead);
        Assert.Equal(poisonId, dead.BasicProperties.MessageId);
        await channel.BasicNackAsync(dead.DeliveryTag, false, requeue: true); // it stays there for inspection
        await Eventually.UntilAsync(async () => (await channel.QueueDeclarePassiveAsync(dlq)).MessageCount == 1, "the poison message is back in the DLQ");
        Assert.Single(await _world.RowsAsync());
    }
}
