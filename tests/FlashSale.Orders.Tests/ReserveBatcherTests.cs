using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using FlashSale.Contracts;
using FlashSale.Orders.Gates;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace FlashSale.Orders.Tests;

/// <summary>The coalescing of reserve calls, against the real Redis: batches form, and they answer as single calls would.</summary>
public class ReserveBatcherTests
{
    sealed class Harness : IDisposable
    {
        readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        readonly MeterListener _listener = new();
        public ConcurrentQueue<int> Batches { get; } = new();
        public ReserveBatcher Batcher { get; }

        public Harness(SaleStore store, int maxSize, int maxInFlight)
        {
            var meters = _services.GetRequiredService<IMeterFactory>();
            var options = Options.Create(new OrdersOptions { ReserveBatch = new ReserveBatchOptions { MaxSize = maxSize, MaxInFlight = maxInFlight } });
            Batcher = new ReserveBatcher(store, options, new OrdersMetrics(meters));
            // Only this harness's meter: other tests of this assembly run orders hosts in the same process.
            _listener.InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Scope == meters && instrument.Name == "flashsale.orders.reserve.batch.size") l.EnableMeasurementEvents(instrument);
            };
            _listener.SetMeasurementEventCallback<int>((_, size, _, _) => Batches.Enqueue(size));
            _listener.Start();
        }

        public void Dispose()
        {
            _listener.Dispose();
            _services.Dispose();
        }
    }

    static async Task<(ConnectionMultiplexer Mux, SaleStore Store, SaleKeys Keys)> SaleAsync(long stock, int limit)
    {
        await Infra.RequireAsync(postgres: false, rabbitMq: false);
        var mux = await ConnectionMultiplexer.ConnectAsync(Infra.Redis);
        var store = new SaleStore(mux);
        var sale = new SaleDefinition("t" + Guid.NewGuid().ToString("N")[..10], "s" + Guid.NewGuid().ToString("N")[..10],
            DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddHours(1), TimeSpan.FromMinutes(15),
            [new ProductDefinition("item", "Item", 25m, "EUR", stock, limit)]);
        await store.PreloadAsync(sale);
        return (mux, store, new SaleKeys(sale.Namespace, sale.Name));
    }

    [Fact]
    public async Task ConcurrentOrdersShareCallsAndGetExactlyTheStockTheLimitsAndOneOrderPerKey()
    {
        var (mux, store, keys) = await SaleAsync(stock: 300, limit: 2);
        await using var _ = mux;
        using var h = new Harness(store, maxSize: 64, maxInFlight: 1);
        // 400 buyers, each sending three orders at once: two with one key (a retry racing its original) and one more.
        var buyers = Enumerable.Range(0, 400).Select(_ => Guid.NewGuid()).ToArray();
        var sent = buyers.SelectMany(b => new[] { (b, "k1"), (b, "k1"), (b, "k2") })
            .Select(x => (Buyer: x.Item1, Key: x.Item2, Item: new ReserveItem(x.Item1, "item", 1, Guid.CreateVersion7(), x.Item2, null)))
            .ToArray();
        var results = await Task.WhenAll(sent.Select(s => Task.Run(() => h.Batcher.ReserveAsync(keys, s.Item))));

        // Calls were shared: fewer calls than orders, none over the maximum, every order in exactly one call.
        Assert.Equal(sent.Length, h.Batches.Sum());
        Assert.True(h.Batches.Count < sent.Length / 4, $"{h.Batches.Count} calls for {sent.Length} orders");
        Assert.All(h.Batches, size => Assert.InRange(size, 1, 64));

        var accepted = results.Where(r => r.Outcome == ReserveOutcome.Accepted).ToList();
        Assert.Equal(300, accepted.Count);
        Assert.All(results.Where(r => r.Outcome == ReserveOutcome.Rejected), r => Assert.Equal(Reasons.SoldOut, r.Reason));
        // A key's orders all name one order; a replay names an accepted order of its own buyer.
        foreach (var group in sent.Zip(results).GroupBy(x => (x.First.Buyer, x.First.Key)))
        {
            var ids = group.Where(x => x.Second.Outcome != ReserveOutcome.Rejected).Select(x => x.Second.OrderId).Distinct().ToList();
            Assert.True(ids.Count <= 1, $"key {group.Key} made {ids.Count} orders");
            if (group.Any(x => x.Second.Outcome == ReserveOutcome.Replayed)) Assert.Contains(group, x => x.Second.Outcome == ReserveOutcome.Accepted);
        }
        var stock = (await store.GetStockAsync(keys)).Single();
        Assert.Equal((0L, 300L), (stock.Remaining, stock.Sold));
        Assert.Equal(300, await mux.GetDatabase().StreamLengthAsync(keys.Stream));
        Assert.All(await store.GetHoldingsAsync(keys), kv => Assert.InRange(kv.Value, 1, 2));
        Assert.Equal(300, (await store.GetHoldingsAsync(keys)).Values.Sum());
        await store.DeleteAsync(keys);
    }

    [Fact]
    public async Task AnIdleBatcherSendsEachOrderAtOnceAndMaxSizeOneTurnsItOff()
    {
        var (mux, store, keys) = await SaleAsync(stock: 100, limit: 5);
        await using var _ = mux;
        using var idle = new Harness(store, maxSize: 64, maxInFlight: 2);
        for (var i = 0; i < 5; i++)
            Assert.Equal(ReserveOutcome.Accepted, (await idle.Batcher.ReserveAsync(keys, new ReserveItem(Guid.NewGuid(), "item", 1, Guid.CreateVersion7(), "k", null))).Outcome);
        Assert.Equal([1, 1, 1, 1, 1], idle.Batches);

        using var off = new Harness(store, maxSize: 1, maxInFlight: 2);
        var results = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ =>
            off.Batcher.ReserveAsync(keys, new ReserveItem(Guid.NewGuid(), "item", 1, Guid.CreateVersion7(), "k", null))));
        Assert.All(results, r => Assert.Equal(ReserveOutcome.Accepted, r.Outcome));
        Assert.Empty(off.Batches);
        await store.DeleteAsync(keys);
    }

    [Fact]
    public async Task WhenRedisCannotBeReachedEveryQueuedOrderFailsAndNoneHangs()
    {
        var mux = await ConnectionMultiplexer.ConnectAsync("127.0.0.1:1,abortConnect=false,connectTimeout=300,asyncTimeout=300,connectRetry=0");
        await using var _ = mux;
        using var h = new Harness(new SaleStore(mux), maxSize: 8, maxInFlight: 1);
        var keys = new SaleKeys("t", "unreachable");
        var calls = Enumerable.Range(0, 30)
            .Select(_ => h.Batcher.ReserveAsync(keys, new ReserveItem(Guid.NewGuid(), "item", 1, Guid.CreateVersion7(), "k", null)))
            .ToArray();
        var all = Task.WhenAll(calls);
        Assert.Same(all, await Task.WhenAny(all, Task.Delay(TimeSpan.FromSeconds(30))));
        // Each order gets the error of its call (a connection or timeout error from the client), as a call of its own would.
        Assert.All(calls, c => Assert.True(c.IsFaulted && c.Exception!.InnerException is RedisException or TimeoutException, c.Exception?.ToString()));
        Assert.Equal(30, h.Batches.Sum());
        Assert.All(h.Batches, size => Assert.InRange(size, 1, 8));
    }
}
