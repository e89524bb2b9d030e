using FlashSale.TestSupport;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace FlashSale.Messaging.Tests;

public sealed class RecoveryTests(Database db) : IClassFixture<Database>
{
    [Fact]
    public async Task PublisherAndConsumerRecoverAfterTheBrokerRestarts()
    {
        await Infra.RequireAsync(redis: false, rabbitMq: false);
        await using var infra = new PrivateInfra("msg");
        await infra.StartAsync("rabbitmq");
        var sale = Broker.NewSale();
        await using (var admin = await Broker.ConnectAsync(infra.RabbitMq))
            await sale.DeclareAsync(admin, TimeSpan.FromMinutes(10));

        var settings = new Dictionary<string, string?> { ["RabbitMq:Namespace"] = sale.Namespace, ["RabbitMq:Sale"] = sale.Sale };
        await using var host = await Broker.StartHostAsync(infra.RabbitMq, db, settings: settings, saleQueue: t => t.StockQueue);
        var publisher = host.Services.GetRequiredService<IEventPublisher>();
        var health = host.Services.GetRequiredService<HealthCheckService>();
        var before = Broker.Event();
        await publisher.PublishAsync(sale.Exchange, EventRoutingKeys.OrderPaid, before);
        Assert.True(await Broker.EventuallyAsync(async () => (await db.EffectsAsync(before.MessageId)).Count == 1, TimeSpan.FromSeconds(20)));

        await infra.StopAsync("rabbitmq");

        var whileDown = Broker.Event();
        await Assert.ThrowsAsync<EventPublishException>(() => publisher.PublishAsync(sale.Exchange, EventRoutingKeys.OrderPaid, whileDown));
        Assert.Equal(HealthStatus.Unhealthy, (await health.CheckHealthAsync(r => r.Tags.Contains("ready"))).Status);

        await infra.StartAsync("rabbitmq");

        // The outbox relay's loop: publish until confirmed; every failure must be an exception, never a silent success.
        var after = Broker.Event();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        for (var published = false; !published;)
        {
            try
            {
                await publisher.PublishAsync(sale.Exchange, EventRoutingKeys.OrderPaid, after);
                published = true;
            }
            catch (EventPublishException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(500);
            }
        }
        Assert.True(await Broker.EventuallyAsync(async () => (await db.EffectsAsync(after.MessageId)).Count == 1, TimeSpan.FromSeconds(60)),
            "the consumer did not resume after the restart");
        Assert.Equal(HealthStatus.Healthy, (await health.CheckHealthAsync(r => r.Tags.Contains("ready"))).Status);
        Assert.Equal([1], await db.EffectsAsync(before.MessageId));
        Assert.Empty(await db.EffectsAsync(whileDown.MessageId));
    }
}
