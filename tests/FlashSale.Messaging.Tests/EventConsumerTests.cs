using System.Text;
using FlashSale.TestSupport;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using RabbitMQ.Client;

namespace FlashSale.Messaging.Tests;

public sealed class EventConsumerTests(Database db) : IClassFixture<Database>, IAsyncLifetime
{
    static readonly TimeSpan Within = TimeSpan.FromSeconds(20);
    readonly SaleTopology _sale = Broker.NewSale();
    IConnection _connection = null!;

    public async Task InitializeAsync()
    {
        _connection = await Broker.ConnectAsync();
        await _sale.DeclareAsync(_connection, TimeSpan.FromMinutes(10));
    }

    public async Task DisposeAsync()
    {
        await _sale.DeleteAsync(_connection);
        await _connection.DisposeAsync();
    }

    Task PublishAsync(RunningHost host, params OutgoingEvent[] events) =>
        host.Services.GetRequiredService<IEventPublisher>().PublishBatchAsync(_sale.Exchange, [.. events.Select(e => (EventRoutingKeys.OrderPaid, e))]);

    [Fact]
    public async Task AnEventDeliveredTwiceIsAppliedOnce()
    {
        await using var host = await Broker.StartHostAsync(Infra.RabbitMq, db, _sale.StockQueue);
        var twice = Broker.Event();
        var after = Broker.Event();

        await PublishAsync(host, twice);
        await PublishAsync(host, twice, after);

        // One consumer, one at a time, in queue order: once the later event is applied, both copies were handled.
        Assert.True(await Broker.EventuallyAsync(async () => (await db.EffectsAsync(after.MessageId)).Count == 1, Within));
        Assert.Equal([1], await db.EffectsAsync(twice.MessageId));
        Assert.Equal(1, await db.InboxCountAsync(twice.MessageId));
        Assert.True(await Broker.EventuallyAsync(async () => await Broker.CountAsync(_connection, _sale.StockQueue) == 0, Within));
    }

    [Fact]
    public async Task APackIsAppliedOncePerEventWhateverItsComposition()
    {
        await using var host = await Broker.StartHostAsync(Infra.RabbitMq, db, _sale.StockQueue);
        var publisher = host.Services.GetRequiredService<IEventPublisher>();
        var (first, second, third) = (Broker.Event(), Broker.Event(), Broker.Event());

        await publisher.PublishPackAsync(_sale.Exchange, EventRoutingKeys.OrderPaid, [first, second]);
        // Republished in another batch, as a relay does after a crash between its publish and its trim.
        await publisher.PublishPackAsync(_sale.Exchange, EventRoutingKeys.OrderPaid, [second, third]);

        Assert.True(await Broker.EventuallyAsync(async () => (await db.EffectsAsync(third.MessageId)).Count == 1, Within));
        foreach (var e in new[] { first, second, third })
        {
            Assert.Equal([1], await db.EffectsAsync(e.MessageId));
            Assert.Equal(1, await db.InboxCountAsync(e.MessageId));
        }
    }

    [Fact]
    public async Task AFailureBeforeCommitLeavesNoRowAndTheEventIsDeliveredAgain()
    {
        var script = new HandlerScript { Fails = e => e.Attempt == 1 };
        await using var host = await Broker.StartHostAsync(Infra.RabbitMq, db, _sale.StockQueue, script);
        var e = Broker.Event();

        await PublishAsync(host, e);

        Assert.True(await Broker.EventuallyAsync(async () => (await db.EffectsAsync(e.MessageId)).Count > 0, Within));
        Assert.Equal([2], await db.EffectsAsync(e.MessageId)); // the row written at attempt 1 was rolled back
        Assert.Equal([1, 2], script.AttemptsOf(e.MessageId));
        Assert.Equal(1, await db.InboxCountAsync(e.MessageId));
    }

    [Fact]
    public async Task AnEventWhoseHandlerAlwaysFailsIsDeadLetteredAfterMaxAttemptsWhileTheOthersAreHandled()
    {
        var bad = Broker.Event();
        var good = Enumerable.Range(0, 20).Select(_ => Broker.Event()).ToArray();
        var script = new HandlerScript { Fails = e => e.MessageId == bad.MessageId };
        await using var host = await Broker.StartHostAsync(Infra.RabbitMq, db, _sale.StockQueue, script,
            o => { o.MaxAttempts = 3; o.RetryDelay = TimeSpan.FromSeconds(1); });

        await PublishAsync(host, [bad, .. good]);

        // The failing event waits 1 s, then 2 s before its retries: the others pass it meanwhile.
        Assert.True(await Broker.EventuallyAsync(async () => good.All(g => script.AttemptsOf(g.MessageId).Length == 1), Within));
        Assert.True(script.AttemptsOf(bad.MessageId).Length < 3, "the failing event blocked the queue");

        var dead = await Broker.TakeAsync(_connection, SaleTopology.DeadLetterQueueOf(_sale.StockQueue), 1, Within);
        Assert.Equal([bad.MessageId], dead.Select(m => m.BasicProperties.MessageId));
        Assert.Equal([1, 2, 3], script.AttemptsOf(bad.MessageId));
        Assert.Empty(await db.EffectsAsync(bad.MessageId));
        Assert.Equal(0, await db.InboxCountAsync(bad.MessageId));
        foreach (var g in good) Assert.Equal([1], await db.EffectsAsync(g.MessageId));
    }

    [Fact]
    public async Task APoisonMessageIsDeadLetteredWithoutReachingTheHandler()
    {
        var script = new HandlerScript();
        await using var host = await Broker.StartHostAsync(Infra.RabbitMq, db, _sale.StockQueue, script);
        await using (var channel = await _connection.CreateChannelAsync(new CreateChannelOptions(true, true)))
        {
            await channel.BasicPublishAsync(_sale.Exchange, EventRoutingKeys.OrderPaid, mandatory: true,
                new BasicProperties { MessageId = "not-json", ContentType = "application/json" }, Encoding.UTF8.GetBytes("{\"orderId\":"));
            await channel.BasicPublishAsync(_sale.Exchange, EventRoutingKeys.OrderPaid, mandatory: true,
                new BasicProperties(), Encoding.UTF8.GetBytes("{}"));
        }
        var after = Broker.Event();
        await PublishAsync(host, after);

        var dead = await Broker.TakeAsync(_connection, SaleTopology.DeadLetterQueueOf(_sale.StockQueue), 2, Within);
        Assert.Equal(["not-json", null], dead.Select(m => m.BasicProperties.MessageId));
        Assert.True(await Broker.EventuallyAsync(async () => (await db.EffectsAsync(after.MessageId)).Count == 1, Within));
        Assert.Equal([after.MessageId], script.Seen.Keys);
    }

    [Fact]
    public async Task ReadinessRequiresTheSaleExchangeAndTheConsumedQueues()
    {
        var other = Broker.NewSale();
        var settings = new Dictionary<string, string?> { ["RabbitMq:Namespace"] = other.Namespace, ["RabbitMq:Sale"] = other.Sale };
        await using var host = await Broker.StartHostAsync(Infra.RabbitMq, db, settings: settings, saleQueue: t => t.NotificationsQueue);
        var health = host.Services.GetRequiredService<HealthCheckService>();
        try
        {
            var missing = await health.CheckHealthAsync(r => r.Tags.Contains("ready"));
            Assert.Equal(HealthStatus.Unhealthy, missing.Status);
            Assert.Contains(other.NotificationsQueue, missing.Entries["rabbitmq"].Description);

            await other.DeclareAsync(_connection, TimeSpan.FromMinutes(1));
            Assert.Equal(HealthStatus.Healthy, (await health.CheckHealthAsync(r => r.Tags.Contains("ready"))).Status);

            var e = Broker.Event();
            await host.Services.GetRequiredService<IEventPublisher>().PublishAsync(other.Exchange, EventRoutingKeys.OrderPaid, e);
            Assert.True(await Broker.EventuallyAsync(async () => (await db.EffectsAsync(e.MessageId)).Count == 1, Within));
        }
        finally
        {
            await other.DeleteAsync(_connection);
        }
    }

    [Fact]
    public async Task AServiceStartsAndReportsNotReadyWhileTheBrokerIsUnreachable()
    {
        var started = DateTime.UtcNow;
        await using var host = await Broker.StartHostAsync("amqp://guest:guest@127.0.0.1:9/", db, _sale.StockQueue);
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(5), "start waited for the broker");

        var report = await host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync(r => r.Tags.Contains("ready"));
        Assert.Equal(HealthStatus.Unhealthy, report.Status);
        Assert.False(host.Services.GetRequiredService<IRabbitMqConnection>().IsConnected);
        await Assert.ThrowsAsync<EventPublishException>(() =>
            host.Services.GetRequiredService<IEventPublisher>().PublishAsync(_sale.Exchange, EventRoutingKeys.OrderPaid, Broker.Event()));
    }
}
