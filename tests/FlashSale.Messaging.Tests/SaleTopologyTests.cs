using System.Text;
using FlashSale.TestSupport;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using RabbitMQ.Client;

namespace FlashSale.Messaging.Tests;

public sealed class SaleTopologyTests
{
    [Fact]
    public void NamesFollowTheSaleNamespaceAndName()
    {
        var t = new SaleTopology("shop", "black-friday");
        Assert.Equal("flashsale.shop.black-friday", t.Exchange);
        Assert.Equal("flashsale.shop.black-friday.dlx", t.DeadLetterExchange);
        Assert.Equal("flashsale.shop.black-friday.stock", t.StockQueue);
        Assert.Equal("flashsale.shop.black-friday.notifications", t.NotificationsQueue);
        Assert.Equal("flashsale.shop.black-friday.orders.expiry", t.ExpiryQueue);
        Assert.Equal("flashsale.shop.black-friday.orders.expiry-wait", t.ExpiryWaitQueue);
        Assert.Equal("flashsale.shop.black-friday.stock.dlq", SaleTopology.DeadLetterQueueOf(t.StockQueue));
        Assert.Throws<ArgumentException>(() => new SaleTopology("shop", "Black Friday"));
    }

    [Fact]
    public async Task DeclaringTwiceIsIdempotentAndRoutesEachKeyToItsQueues()
    {
        await using var connection = await Broker.ConnectAsync();
        var t = Broker.NewSale();
        try
        {
            Assert.False(await t.ExistsAsync(connection));
            await t.DeclareAsync(connection, TimeSpan.FromMinutes(10));
            await t.DeclareAsync(connection, TimeSpan.FromMinutes(10));
            Assert.Empty(await t.FindMissingAsync(connection));

            await using var host = await Broker.StartHostAsync(Infra.RabbitMq);
            var publisher = host.Services.GetRequiredService<IEventPublisher>();
            var reserved = Broker.Event(type: EventRoutingKeys.OrderReserved);
            var paid = Broker.Event();
            var expired = Broker.Event(type: EventRoutingKeys.OrderExpired);
            await publisher.PublishBatchAsync(t.Exchange,
                [(EventRoutingKeys.OrderReserved, reserved), (EventRoutingKeys.OrderPaid, paid), (EventRoutingKeys.OrderExpired, expired)]);

            string[] all = [reserved.MessageId, paid.MessageId, expired.MessageId];
            Assert.Equal(all, (await Broker.TakeAsync(connection, t.StockQueue, 3, TimeSpan.FromSeconds(5))).Select(m => m.BasicProperties.MessageId));
            Assert.Equal(all, (await Broker.TakeAsync(connection, t.NotificationsQueue, 3, TimeSpan.FromSeconds(5))).Select(m => m.BasicProperties.MessageId));
            Assert.Equal([reserved.MessageId], (await Broker.DrainAsync(connection, t.ExpiryWaitQueue)).Select(m => m.BasicProperties.MessageId));
            Assert.Empty(await Broker.DrainAsync(connection, t.ExpiryQueue));
        }
        finally
        {
            await t.DeleteAsync(connection);
        }
    }

    [Fact]
    public async Task AReservedOrderReachesTheExpiryQueueAfterThePaymentTimeout()
    {
        await using var connection = await Broker.ConnectAsync();
        var t = Broker.NewSale();
        try
        {
            await t.DeclareAsync(connection, TimeSpan.FromSeconds(1));
            await using var channel = await connection.CreateChannelAsync();
            var id = Guid.NewGuid().ToString();
            await channel.BasicPublishAsync(t.Exchange, EventRoutingKeys.OrderReserved, mandatory: true,
                new BasicProperties { MessageId = id, Type = EventRoutingKeys.OrderReserved, DeliveryMode = DeliveryModes.Persistent },
                Encoding.UTF8.GetBytes("{}"));
            var before = DateTime.UtcNow;

            var due = await Broker.TakeAsync(connection, t.ExpiryQueue, 1, TimeSpan.FromSeconds(20));
            var waited = DateTime.UtcNow - before;

            var m = Assert.Single(due);
            Assert.Equal(id, m.BasicProperties.MessageId);
            Assert.Equal(EventRoutingKeys.OrderExpiryDue, m.RoutingKey);
            Assert.True(waited >= TimeSpan.FromMilliseconds(900), $"arrived after {waited}, before the 1 s timeout");
            Assert.Equal(0u, await Broker.CountAsync(connection, t.ExpiryWaitQueue));
        }
        finally
        {
            await t.DeleteAsync(connection);
        }
    }

    [Fact]
    public async Task AChangedPaymentTimeoutIsRefusedWhileOrdersWaitAndAppliedOnceTheWaitQueueIsEmpty()
    {
        await using var connection = await Broker.ConnectAsync();
        var t = Broker.NewSale();
        try
        {
            await t.DeclareAsync(connection, TimeSpan.FromMinutes(10));
            await PublishReservedAsync(connection, t, "waiting");

            var e = await Assert.ThrowsAsync<TopologyConflictException>(() => t.DeclareAsync(connection, TimeSpan.FromSeconds(1)));
            Assert.Contains(t.ExpiryWaitQueue, e.Message);
            Assert.Equal(["waiting"], (await Broker.DrainAsync(connection, t.ExpiryWaitQueue)).Select(m => m.BasicProperties.MessageId));
            await t.DeclareAsync(connection, TimeSpan.FromMinutes(10)); // the current timeout still declares fine

            await t.DeclareAsync(connection, TimeSpan.FromSeconds(1)); // empty now: replaced
            await t.DeclareAsync(connection, TimeSpan.FromSeconds(1));
            await PublishReservedAsync(connection, t, "after-change");

            var due = await Broker.TakeAsync(connection, t.ExpiryQueue, 2, TimeSpan.FromSeconds(8));
            Assert.Equal(["after-change"], due.Select(m => m.BasicProperties.MessageId)); // new TTL, one copy: the bridge is unbound
            Assert.Equal(0u, await Broker.CountAsync(connection, t.ExpiryWaitBridgeQueue));
        }
        finally
        {
            await t.DeleteAsync(connection);
        }
    }

    static async Task PublishReservedAsync(IConnection connection, SaleTopology t, string id)
    {
        await using var channel = await connection.CreateChannelAsync(new CreateChannelOptions(true, true));
        await channel.BasicPublishAsync(t.Exchange, EventRoutingKeys.OrderReserved, mandatory: true,
            new BasicProperties { MessageId = id, DeliveryMode = DeliveryModes.Persistent }, Encoding.UTF8.GetBytes("{}"));
    }

    [Fact]
    public async Task DeleteRemovesEverythingAndCountsMissingEntitiesAsDeleted()
    {
        await using var connection = await Broker.ConnectAsync();
        var t = Broker.NewSale();
        await t.DeclareAsync(connection, TimeSpan.FromMinutes(1));

        await t.DeleteAsync(connection);
        await t.DeleteAsync(connection);

        Assert.False(await t.ExistsAsync(connection));
        var missing = await t.FindMissingAsync(connection);
        Assert.Equal(t.Exchanges.Count + t.Queues.Count, missing.Count);
    }
}
