using FlashSale.TestSupport;
using Microsoft.Extensions.DependencyInjection;
using RabbitMQ.Client;

namespace FlashSale.Messaging.Tests;

public sealed class EventPublisherTests : IAsyncLifetime
{
    readonly SaleTopology _sale = Broker.NewSale();
    IConnection _connection = null!;
    RunningHost _host = null!;
    IEventPublisher Publisher => _host.Services.GetRequiredService<IEventPublisher>();

    public async Task InitializeAsync()
    {
        _connection = await Broker.ConnectAsync();
        await _sale.DeclareAsync(_connection, TimeSpan.FromMinutes(10));
        _host = await Broker.StartHostAsync(Infra.RabbitMq);
    }

    public async Task DisposeAsync()
    {
        await _host.DisposeAsync();
        await _sale.DeleteAsync(_connection);
        await _connection.DisposeAsync();
    }

    [Fact]
    public async Task EveryEventOfConcurrentBatchesArrivesExactlyOnceAndPersistent()
    {
        const int batches = 8, perBatch = 500;
        var sent = Enumerable.Range(0, batches)
            .Select(_ => Enumerable.Range(0, perBatch).Select(_ => (EventRoutingKeys.OrderPaid, Broker.Event())).ToList())
            .ToList();

        await Task.WhenAll(sent.Select(batch => Publisher.PublishBatchAsync(_sale.Exchange, batch)));

        // Confirmed means enqueued: everything is in the queue when the calls return.
        Assert.Equal((uint)(batches * perBatch), await Broker.CountAsync(_connection, _sale.StockQueue));
        var received = await Broker.DrainAsync(_connection, _sale.StockQueue);
        Assert.Equal(sent.SelectMany(b => b).Select(x => x.Item2.MessageId).Order(), received.Select(m => m.BasicProperties.MessageId!).Order());
        Assert.All(received, m => Assert.Equal(DeliveryModes.Persistent, m.BasicProperties.DeliveryMode));
        Assert.All(received, m => Assert.Equal(EventRoutingKeys.OrderPaid, m.BasicProperties.Type));
    }

    [Fact]
    public async Task PublishingToAMissingExchangeThrowsAndLaterPublishesStillSucceed()
    {
        var e = await Assert.ThrowsAsync<EventPublishException>(() =>
            Publisher.PublishBatchAsync($"missing.{Guid.NewGuid():N}", [(EventRoutingKeys.OrderPaid, Broker.Event()), (EventRoutingKeys.OrderPaid, Broker.Event())]));
        Assert.Equal(2, e.FailedMessageIds.Count);

        var ok = Broker.Event();
        await Publisher.PublishAsync(_sale.Exchange, EventRoutingKeys.OrderPaid, ok);
        Assert.Equal([ok.MessageId], (await Broker.DrainAsync(_connection, _sale.StockQueue)).Select(m => m.BasicProperties.MessageId));
    }

    [Fact]
    public async Task PublishingAnEventNoQueueIsBoundForThrows()
    {
        var unroutable = Broker.Event();
        var routable = Broker.Event();

        var e = await Assert.ThrowsAsync<EventPublishException>(() =>
            Publisher.PublishBatchAsync(_sale.Exchange, [("order.unknown", unroutable), (EventRoutingKeys.OrderPaid, routable)]));

        Assert.Equal([unroutable.MessageId], e.FailedMessageIds);
        Assert.Contains("unroutable", e.Message);
    }
}
