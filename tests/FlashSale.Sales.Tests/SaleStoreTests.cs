using FlashSale.Contracts;
using StackExchange.Redis;

namespace FlashSale.Sales.Tests;

public sealed class RedisFixture : IAsyncLifetime
{
    public ConnectionMultiplexer Redis { get; private set; } = null!;
    public SaleStore Store { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        await Infra.RequireAsync(postgres: false, rabbitMq: false);
        Redis = await ConnectionMultiplexer.ConnectAsync(Infra.Redis + ",allowAdmin=true");
        Store = new SaleStore(Redis);
        await Store.LoadScriptsAsync();
    }

    public async Task DisposeAsync() => await Redis.DisposeAsync();
}

public class SaleStoreTests(RedisFixture fx) : IClassFixture<RedisFixture>, IAsyncLifetime
{
    readonly List<SaleKeys> _sales = [];

    SaleDefinition NewSale(long stock = 10, int limit = 1, double startInSeconds = -60, double endInSeconds = 3600)
    {
        var sale = new SaleDefinition("test", "s" + Guid.NewGuid().ToString("N")[..12], DateTimeOffset.UtcNow.AddSeconds(startInSeconds),
            DateTimeOffset.UtcNow.AddSeconds(endInSeconds), TimeSpan.FromMinutes(15),
            [new ProductDefinition("p1", "P1", 10m, "EUR", stock, limit), new ProductDefinition("p2", "P2", 5m, "EUR", stock, 5)]);
        _sales.Add(new SaleKeys(sale.Namespace, sale.Name));
        return sale;
    }

    /// <summary>A new sale preloaded into Redis, with its keys.</summary>
    async Task<(SaleDefinition Sale, SaleKeys Keys)> PreloadedSaleAsync(long stock, int limit)
    {
        var sale = NewSale(stock, limit);
        await fx.Store.PreloadAsync(sale);
        return (sale, new SaleKeys(sale.Namespace, sale.Name));
    }

    public Task InitializeAsync() => Task.CompletedTask;

    // The shared Redis is left as found (idempotency keys expire on their own).
    public async Task DisposeAsync()
    {
        foreach (var k in _sales) await fx.Store.DeleteAsync(k);
    }

    Task<ReserveResult> Reserve(SaleDefinition s, Guid user, string sku = "p1", int qty = 1, string? key = null) =>
        fx.Store.ReserveAsync(new SaleKeys(s.Namespace, s.Name), user, sku, qty, Guid.CreateVersion7(), key ?? Guid.NewGuid().ToString(), TimeSpan.FromHours(1));

    [Fact]
    public async Task PreloadIsIdempotentAndNeverOverwritesARunningSale()
    {
        var sale = NewSale(stock: 10);
        await fx.Store.PreloadAsync(sale);
        Assert.Equal(ReserveOutcome.Accepted, (await Reserve(sale, Guid.NewGuid())).Outcome);
        var again = await fx.Store.PreloadAsync(sale);
        var p1 = again.Single(p => p.Sku == "p1");
        Assert.Equal(10, p1.Initial);
        Assert.Equal(9, p1.Remaining);
        Assert.Equal(1, p1.Sold);
        Assert.Equal(["P1", "P2"], again.Select(p => p.Name));
        // A renamed product keeps its stock and sales and shows its new name.
        var renamed = await fx.Store.PreloadAsync(sale with { Products = [sale.Products[0] with { Name = "Console X" }, sale.Products[1]] });
        Assert.Equal(("Console X", 9L), (renamed.Single(p => p.Sku == "p1").Name, renamed.Single(p => p.Sku == "p1").Remaining));
    }

    [Fact]
    public async Task AHigherStockAddsTheDifferenceAndALowerOneBelowSoldIsRefused()
    {
        var sale = NewSale(stock: 10, limit: 5);
        await fx.Store.PreloadAsync(sale);
        for (var i = 0; i < 4; i++) await Reserve(sale, Guid.NewGuid());
        var raised = await fx.Store.PreloadAsync(sale with { Products = [sale.Products[0] with { Stock = 15 }, sale.Products[1]] });
        Assert.Equal((15, 11L), (raised[0].Initial, raised[0].Remaining));

        var e = await Assert.ThrowsAsync<StockBelowSoldException>(() =>
            fx.Store.PreloadAsync(sale with { Products = [sale.Products[0] with { Stock = 3 }, sale.Products[1]] }));
        Assert.Equal(("p1", 4L), (e.Sku, e.Sold));
        var unchanged = await fx.Store.GetStockAsync(new SaleKeys(sale.Namespace, sale.Name));
        Assert.Equal((15, 11L), (unchanged[0].Initial, unchanged[0].Remaining));

        var lowered = await fx.Store.PreloadAsync(sale with { Products = [sale.Products[0] with { Stock = 6 }, sale.Products[1]] });
        Assert.Equal((6, 2L, 4L), (lowered[0].Initial, lowered[0].Remaining, lowered[0].Sold));
    }

    [Fact]
    public async Task TheGateAnswersEveryReason()
    {
        var sale = NewSale(stock: 1, limit: 1);
        await fx.Store.PreloadAsync(sale);
        var buyer = Guid.NewGuid();
        Assert.Equal(Reasons.UnknownSku, (await Reserve(sale, buyer, sku: "nope")).Reason);
        Assert.Equal(Reasons.LimitReached, (await Reserve(sale, buyer, qty: 2)).Reason);
        Assert.Equal(ReserveOutcome.Accepted, (await Reserve(sale, buyer)).Outcome);
        Assert.Equal(Reasons.LimitReached, (await Reserve(sale, buyer)).Reason);
        Assert.Equal(Reasons.SoldOut, (await Reserve(sale, Guid.NewGuid())).Reason);
        var unknown = new SaleDefinition("test", "missing-" + Guid.NewGuid().ToString("N")[..8], default, default, default, []);
        Assert.Equal(Reasons.UnknownSale, (await Reserve(unknown, buyer)).Reason);

        var early = NewSale(startInSeconds: 60);
        await fx.Store.PreloadAsync(early);
        Assert.Equal(Reasons.NotStarted, (await Reserve(early, buyer)).Reason);
        var late = NewSale(startInSeconds: -120, endInSeconds: -60);
        await fx.Store.PreloadAsync(late);
        Assert.Equal(Reasons.Ended, (await Reserve(late, buyer)).Reason);
    }

    [Fact]
    public async Task TheSameKeyReplaysTheOrderAndADifferentBodyIsAMismatch()
    {
        var sale = NewSale(stock: 10, limit: 5);
        await fx.Store.PreloadAsync(sale);
        var buyer = Guid.NewGuid();
        var first = await Reserve(sale, buyer, key: "k1");
        var again = await Reserve(sale, buyer, key: "k1");
        Assert.Equal(ReserveOutcome.Replayed, again.Outcome);
        Assert.Equal(first.OrderId, again.OrderId);
        Assert.Equal(Reasons.IdempotencyMismatch, (await Reserve(sale, buyer, qty: 2, key: "k1")).Reason);
        // another user's key space is separate
        Assert.Equal(ReserveOutcome.Accepted, (await Reserve(sale, Guid.NewGuid(), key: "k1")).Outcome);
        var stock = await fx.Store.GetStockAsync(new SaleKeys(sale.Namespace, sale.Name));
        Assert.Equal(8, stock[0].Remaining);
        Assert.Equal(2, await fx.Redis.GetDatabase().StreamLengthAsync(new SaleKeys(sale.Namespace, sale.Name).Stream));
    }

    [Fact]
    public async Task TwoThousandConcurrentReservationsTakeExactlyTheStock()
    {
        var sale = NewSale(stock: 100, limit: 1);
        await fx.Store.PreloadAsync(sale);
        var results = await Task.WhenAll(Enumerable.Range(0, 2000).Select(_ => Reserve(sale, Guid.NewGuid())));
        Assert.Equal(100, results.Count(r => r.Outcome == ReserveOutcome.Accepted));
        Assert.All(results.Where(r => r.Outcome != ReserveOutcome.Accepted), r => Assert.Equal(Reasons.SoldOut, r.Reason));
        var k = new SaleKeys(sale.Namespace, sale.Name);
        var stock = (await fx.Store.GetStockAsync(k))[0];
        Assert.Equal((0L, 100L), (stock.Remaining, stock.Sold));
        Assert.Equal(100, await fx.Redis.GetDatabase().StreamLengthAsync(k.Stream));
    }

    [Fact]
    public async Task ScriptsForgottenByRedisAreSentAgainAndTheGateKeepsAnswering()
    {
        // A private Redis: SCRIPT FLUSH on the shared one would disturb other tests.
        await using var infra = new PrivateInfra("sales-noscript");
        await infra.StartAsync("redis");
        await using var redis = await ConnectionMultiplexer.ConnectAsync(infra.Redis + ",allowAdmin=true");
        var store = new SaleStore(redis);
        var sale = NewSale(stock: 5, limit: 5);
        await store.PreloadAsync(sale); // no LoadScriptsAsync: the first EVALSHA meets NOSCRIPT
        var k = new SaleKeys(sale.Namespace, sale.Name);
        Task<ReserveResult> ReserveOne() => store.ReserveAsync(k, Guid.NewGuid(), "p1", 1, Guid.CreateVersion7(), Guid.NewGuid().ToString(), TimeSpan.FromHours(1));
        Assert.Equal(ReserveOutcome.Accepted, (await ReserveOne()).Outcome);
        await redis.GetServer(redis.GetEndPoints()[0]).ScriptFlushAsync();
        Assert.False(await redis.GetServer(redis.GetEndPoints()[0]).ScriptExistsAsync(SaleStore.ReserveScript.Sha1));
        Assert.Equal(ReserveOutcome.Accepted, (await ReserveOne()).Outcome);
        Assert.True(await redis.GetServer(redis.GetEndPoints()[0]).ScriptExistsAsync(SaleStore.ReserveScript.Sha1));
        Assert.Equal(3, (await store.GetStockAsync(k)).Single(p => p.Sku == "p1").Remaining);
    }

    [Fact]
    public async Task ReleaseReturnsStockExactlyOnceAndFreesTheBuyersLimit()
    {
        var (sale, k) = await PreloadedSaleAsync(stock: 1, limit: 1);
        var buyer = Guid.NewGuid();
        var order = await Reserve(sale, buyer);
        var releases = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => fx.Store.ReleaseAsync(k, order.OrderId, buyer, "p1", 1, DateTimeOffset.UtcNow)));
        Assert.Equal(1, releases.Count(r => r == ReleaseOutcome.Released));
        Assert.Equal(19, releases.Count(r => r == ReleaseOutcome.AlreadyReleased));
        var stock = (await fx.Store.GetStockAsync(k))[0];
        Assert.Equal((1L, 1L, 1L, 0L), (stock.Remaining, stock.Reserved, stock.Released, stock.Sold));
        Assert.Equal(ReserveOutcome.Accepted, (await Reserve(sale, buyer)).Outcome);
    }

    [Fact]
    public async Task ReleasingAnOrderOfASaleRedisNoLongerHoldsWritesNothing()
    {
        var (sale, k) = await PreloadedSaleAsync(stock: 1, limit: 1);
        var buyer = Guid.NewGuid();
        var order = await Reserve(sale, buyer);
        await fx.Store.DeleteAsync(k);

        Assert.Equal(ReleaseOutcome.SaleNotInRedis, await fx.Store.ReleaseAsync(k, order.OrderId, buyer, "p1", 1, DateTimeOffset.UtcNow));
        foreach (var key in k.All) Assert.False(await fx.Store.Redis.GetDatabase().KeyExistsAsync(key), $"{key} was created");
    }

    [Fact]
    public async Task RelayedOrdersLeaveTheStreamAndThePendingIndexTogetherAndADeletedSaleGetsNoKeyBack()
    {
        var (sale, k) = await PreloadedSaleAsync(stock: 3, limit: 3);
        var buyer = Guid.NewGuid();
        var orders = new[] { await Reserve(sale, buyer), await Reserve(sale, buyer), await Reserve(sale, buyer) };
        var db = fx.Store.Redis.GetDatabase();
        var entries = await db.StreamRangeAsync(k.Stream);
        foreach (var o in orders) Assert.Equal(o.OrderId, (await fx.Store.FindPendingOrderAsync(k, o.OrderId))?.OrderId);

        // The relay wrote the first two: trimmed up to the third entry, and forgotten by the index in the same call.
        await fx.Store.TrimRelayedAsync(k, entries[2].Id!, [orders[0].OrderId, orders[1].OrderId]);
        Assert.Equal(1, await db.StreamLengthAsync(k.Stream));
        Assert.Equal([orders[2].OrderId.ToString()], (await db.HashKeysAsync(k.Pending)).Select(f => (string)f!));
        Assert.Null(await fx.Store.FindPendingOrderAsync(k, orders[0].OrderId));
        Assert.Equal(orders[2].OrderId, (await fx.Store.FindPendingOrderAsync(k, orders[2].OrderId))!.OrderId);

        await fx.Store.DeleteAsync(k);
        await fx.Store.TrimRelayedAsync(k, entries[2].Id!, [orders[2].OrderId]);
        foreach (var key in k.All) Assert.False(await db.KeyExistsAsync(key), $"{key} was created");
    }

    /// <summary>A sale of 2 x p1 (limit 2) with one order reserved, and a few milliseconds gone by since.</summary>
    async Task<(SaleDefinition Sale, SaleKeys Keys, Guid Buyer, ReserveResult Order, DateTimeOffset ReservedAt)> OneOrderThenAMillisecondAsync()
    {
        var (sale, k) = await PreloadedSaleAsync(stock: 2, limit: 2);
        var buyer = Guid.NewGuid();
        var order = await Reserve(sale, buyer);
        var reservedAt = DateTimeOffset.UtcNow;
        await Task.Delay(5);
        return (sale, k, buyer, order, reservedAt);
    }

    [Fact]
    public async Task AnOrderOfAnEarlierSaleOfTheSameNameReturnsNothingToTheSaleAppliedAgain()
    {
        var (sale, k, buyer, order, reservedAt) = await OneOrderThenAMillisecondAsync();
        await fx.Store.DeleteAsync(k);
        await fx.Store.PreloadAsync(sale); // the sale applied again comes to be in a later millisecond than the order

        // The earlier sale's order expires now: its unit must not be added to the new sale's 2, nor its buyer's units go negative.
        Assert.Equal(ReleaseOutcome.EarlierSale, await fx.Store.ReleaseAsync(k, order.OrderId, buyer, "p1", 1, reservedAt));
        var stock = (await fx.Store.GetStockAsync(k)).Single(p => p.Sku == "p1");
        Assert.Equal((2L, 0L, 0L), (stock.Remaining, stock.Reserved, stock.Released));
        Assert.False(await fx.Store.Redis.GetDatabase().HashExistsAsync(k.Bought, $"{buyer:N}|p1"));
        // The new sale's own orders release as before.
        var own = await Reserve(sale, buyer);
        Assert.Equal(ReleaseOutcome.Released, await fx.Store.ReleaseAsync(k, own.OrderId, buyer, "p1", 1, DateTimeOffset.UtcNow));
        Assert.Equal(2L, (await fx.Store.GetStockAsync(k)).Single(p => p.Sku == "p1").Remaining);
    }

    [Fact]
    public async Task ASalePreloadedBeforeSalesWereStampedStillReleasesItsOrders()
    {
        var (sale, k, buyer, order, reservedAt) = await OneOrderThenAMillisecondAsync();
        // As a sale preloaded by an earlier operator: no created_at_ms. The next reconcile's preload must not stamp it "now".
        await fx.Store.Redis.GetDatabase().HashDeleteAsync(k.Meta, "created_at_ms");
        await fx.Store.PreloadAsync(sale);

        Assert.Equal("0", (string?)await fx.Store.Redis.GetDatabase().HashGetAsync(k.Meta, "created_at_ms"));
        Assert.Equal(ReleaseOutcome.Released, await fx.Store.ReleaseAsync(k, order.OrderId, buyer, "p1", 1, reservedAt));
        Assert.Equal(2L, (await fx.Store.GetStockAsync(k)).Single(p => p.Sku == "p1").Remaining);
    }

    [Fact]
    public async Task OrdersReservedInOneCallGetTheAnswersTheyWouldGetOneAfterTheOther()
    {
        var (sale, k) = await PreloadedSaleAsync(stock: 3, limit: 2);
        var (ann, bob, cid) = (Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid());
        ReserveItem Item(Guid user, string key, int qty = 1, string sku = "p1") => new(user, sku, qty, Guid.CreateVersion7(), key, $"{user:N}@example.test");
        ReserveItem[] batch =
        [
            Item(ann, "a"),          // accepted, 2 left
            Item(ann, "a"),          // the same key again: replays the first order
            Item(ann, "a", qty: 2),  // the same key with another body
            Item(ann, "b", qty: 2),  // ann holds 1, her limit is 2
            Item(bob, "c", qty: 2),  // accepted, 0 left
            Item(cid, "d"),          // nothing left
            Item(cid, "e", sku: "nope"),
            Item(cid, "f", sku: "p2"), // another sku of the sale
        ];
        var r = await fx.Store.ReserveManyAsync(k, batch, TimeSpan.FromHours(1));

        Assert.Equal((ReserveOutcome.Accepted, batch[0].NewOrderId, 2L), (r[0].Outcome, r[0].OrderId, r[0].Remaining));
        Assert.Equal((ReserveOutcome.Replayed, batch[0].NewOrderId), (r[1].Outcome, r[1].OrderId));
        Assert.Equal(Reasons.IdempotencyMismatch, r[2].Reason);
        Assert.Equal((Reasons.LimitReached, "1"), (r[3].Reason, r[3].Detail));
        Assert.Equal((ReserveOutcome.Accepted, batch[4].NewOrderId, 0L), (r[4].Outcome, r[4].OrderId, r[4].Remaining));
        Assert.Equal((Reasons.SoldOut, "0"), (r[5].Reason, r[5].Detail));
        Assert.Equal(Reasons.UnknownSku, r[6].Reason);
        Assert.Equal((ReserveOutcome.Accepted, batch[7].NewOrderId), (r[7].Outcome, r[7].OrderId));

        // What the accepted ones changed, and nothing else: stock, holdings, the stream, and replays of each key later.
        var stock = (await fx.Store.GetStockAsync(k)).ToDictionary(p => p.Sku);
        Assert.Equal((0L, 3L), (stock["p1"].Remaining, stock["p1"].Sold));
        Assert.Equal((2L, 1L), (stock["p2"].Remaining, stock["p2"].Sold));
        var holdings = await fx.Store.GetHoldingsAsync(k);
        Assert.Equal((1L, 2L, 1L), (holdings[$"{ann:N}|p1"], holdings[$"{bob:N}|p1"], holdings[$"{cid:N}|p2"]));
        var entries = await ReadStreamAsync(k);
        Assert.Equal([batch[0].NewOrderId, batch[4].NewOrderId, batch[7].NewOrderId], entries.Select(e => e.OrderId));
        Assert.Equal(["a", "c", "f"], entries.Select(e => e.IdempotencyKey));
        Assert.Equal((bob, "p1", 2, 10m, $"{bob:N}@example.test"), (entries[1].UserId, entries[1].Sku, entries[1].Quantity, entries[1].UnitPrice, entries[1].BuyerEmail));
        var replay = await fx.Store.ReserveAsync(k, bob, "p1", 2, Guid.CreateVersion7(), "c", TimeSpan.FromHours(1));
        Assert.Equal((ReserveOutcome.Replayed, batch[4].NewOrderId), (replay.Outcome, replay.OrderId));
    }

    [Fact]
    public async Task OrdersOfOneBuyerInOneCallAddUpAgainstTheLimitAndTheStockIsWrittenOncePerCall()
    {
        var (_, k) = await PreloadedSaleAsync(stock: 10, limit: 3);
        var (ann, bob) = (Guid.NewGuid(), Guid.NewGuid());
        ReserveItem Item(Guid user, string key, int qty = 1, string sku = "p1") => new(user, sku, qty, Guid.CreateVersion7(), key, null);
        ReserveItem[] batch = [Item(ann, "a1"), Item(bob, "b1", qty: 2), Item(ann, "a2", qty: 2), Item(ann, "a3"), Item(bob, "b2", sku: "p2")];
        var r = await fx.Store.ReserveManyAsync(k, batch, TimeSpan.FromHours(1));

        Assert.Equal([9L, 7L, 5L, -1L, 9L], r.Select(x => x.Outcome == ReserveOutcome.Accepted ? x.Remaining : -1));
        Assert.Equal((Reasons.LimitReached, "0"), (r[3].Reason, r[3].Detail)); // ann's 1 + 2 reached her 3 within the call
        var holdings = await fx.Store.GetHoldingsAsync(k);
        Assert.Equal((3L, 2L, 1L), (holdings[$"{ann:N}|p1"], holdings[$"{bob:N}|p1"], holdings[$"{bob:N}|p2"]));
        var stock = (await fx.Store.GetStockAsync(k)).ToDictionary(p => p.Sku);
        Assert.Equal((5L, 5L, 0L), (stock["p1"].Remaining, stock["p1"].Reserved, stock["p1"].Released));
        Assert.Equal((9L, 1L), (stock["p2"].Remaining, stock["p2"].Reserved));
        var entries = await ReadStreamAsync(k);
        Assert.Equal(["a1", "b1", "a2", "b2"], entries.Select(e => e.IdempotencyKey));
        Assert.Equal([10m, 10m, 10m, 5m], entries.Select(e => e.UnitPrice));
        Assert.Equal(Reasons.LimitReached, (await fx.Store.ReserveAsync(k, Item(ann, "a4"), TimeSpan.FromHours(1))).Reason);
    }

    async Task<OrderStreamEntry[]> ReadStreamAsync(SaleKeys k) =>
        (await fx.Redis.GetDatabase().StreamRangeAsync(k.Stream)).Select(e => OrderStreamEntry.TryParse(e, out var o) ? o : throw new InvalidDataException($"entry {e.Id}")).ToArray();

    [Fact]
    public async Task AStreamEntryCarriesKeysAndEmailsWithSeparatorsInThemWhole()
    {
        var (_, k) = await PreloadedSaleAsync(stock: 10, limit: 5);
        var buyer = Guid.NewGuid();
        var before = DateTimeOffset.UtcNow.AddSeconds(-1);
        ReserveItem[] batch =
        [
            new(buyer, "p1", 2, Guid.CreateVersion7(), "a|b|c", "odd|name@example.test"),
            new(buyer, "p2", 1, Guid.CreateVersion7(), "|", null),
            new(buyer, "p1", 1, Guid.CreateVersion7(), "x", "|"),
            new(buyer, "p2", 1, Guid.CreateVersion7(), "ключ|é", "ü|@example.test"), // not from the API (ASCII keys only): Lua counts bytes
        ];
        Assert.All(await fx.Store.ReserveManyAsync(k, batch, TimeSpan.FromHours(1)), r => Assert.Equal(ReserveOutcome.Accepted, r.Outcome));

        var entries = await ReadStreamAsync(k);
        Assert.Equal(batch.Select(b => (b.NewOrderId, b.UserId, b.Sku, b.Quantity, b.IdempotencyKey, b.Email)),
            entries.Select(e => (e.OrderId, e.UserId, e.Sku, e.Quantity, e.IdempotencyKey, e.BuyerEmail)));
        Assert.Equal([10m, 5m, 10m, 5m], entries.Select(e => e.UnitPrice));
        Assert.All(entries, e => Assert.InRange(e.ReservedAt, before, DateTimeOffset.UtcNow.AddSeconds(1)));
        Assert.Equal(OrderStreamEntry.Pack(batch[0].NewOrderId, buyer, 2, "10", entries[0].ReservedAt.ToUnixTimeMilliseconds(), "p1", "a|b|c", "odd|name@example.test"),
            (string?)(await fx.Redis.GetDatabase().StreamRangeAsync(k.Stream))[0][OrderStreamEntry.Field]);
    }

    [Fact]
    public void AStreamEntryOfTheEarlierEightFieldsIsStillReadAndAMalformedOneIsNot()
    {
        var (id, user) = (Guid.CreateVersion7(), Guid.NewGuid());
        var legacy = new StreamEntry("1-0", [new("id", id.ToString()), new("user", user.ToString("N")), new("sku", "p1"), new("qty", 2),
            new("price", "12.50"), new("key", "k|1"), new("ts", 1_700_000_000_000), new("email", "")]);
        Assert.True(OrderStreamEntry.TryParse(legacy, out var e));
        Assert.Equal((id, user, "p1", 2, 12.50m, DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_000), "k|1", (string?)null),
            (e.OrderId, e.UserId, e.Sku, e.Quantity, e.UnitPrice, e.ReservedAt, e.IdempotencyKey, e.BuyerEmail));

        var good = OrderStreamEntry.Pack(id, user, 1, "3", 1_700_000_000_000, "p1", "key|with|bars", "a@b.c");
        Assert.True(OrderStreamEntry.TryParse(new StreamEntry("2-0", [new(OrderStreamEntry.Field, good)]), out var packed));
        Assert.Equal(("key|with|bars", "a@b.c"), (packed.IdempotencyKey, packed.BuyerEmail));
        foreach (var bad in new[] { "", "garbage", good.Replace("|13|", "|14|"), good.Replace("|13|", "|0|"), good.Replace("|13|", "|x|"),
                     good.Replace(id.ToString(), "not-a-guid"), good[..good.IndexOf("|13|", StringComparison.Ordinal)] })
            Assert.False(OrderStreamEntry.TryParse(new StreamEntry("3-0", [new(OrderStreamEntry.Field, bad)]), out _), bad);
        Assert.False(OrderStreamEntry.TryParse(new StreamEntry("4-0", [new("id", id.ToString())]), out _));
    }

    [Fact]
    public async Task ACallThatCannotWriteAllItsOrdersWritesNone()
    {
        var (sale, k) = await PreloadedSaleAsync(stock: 10, limit: 5);
        var db = fx.Redis.GetDatabase();
        await db.StringSetAsync(k.Stream, "not a stream"); // e.g. a key written by hand over the sale's stream
        var buyer = Guid.NewGuid();
        ReserveItem[] batch = [new(buyer, "p1", 1, Guid.CreateVersion7(), "x", null), new(buyer, "p2", 2, Guid.CreateVersion7(), "y", null)];

        var e = await Assert.ThrowsAsync<RedisServerException>(() => fx.Store.ReserveManyAsync(k, batch, TimeSpan.FromHours(1)));
        Assert.Contains("WRONGTYPE", e.Message);
        var stock = await fx.Store.GetStockAsync(k);
        Assert.All(stock, p => Assert.Equal((10L, 0L), (p.Remaining, p.Reserved)));
        Assert.Empty(await fx.Store.GetHoldingsAsync(k));
        Assert.False(await db.KeyExistsAsync(k.Idempotency(buyer, "x")));
        Assert.False(await db.KeyExistsAsync(k.Idempotency(buyer, "y")));
    }

    [Fact]
    public async Task EveryOrderOfACallToAnUnknownSaleIsAnsweredUnknownSale()
    {
        var k = new SaleKeys("test", "never-" + Guid.NewGuid().ToString("N")[..8]);
        var r = await fx.Store.ReserveManyAsync(k,
            [new ReserveItem(Guid.NewGuid(), "p1", 1, Guid.CreateVersion7(), "x", null), new ReserveItem(Guid.NewGuid(), "p1", 1, Guid.CreateVersion7(), "y", null)],
            TimeSpan.FromHours(1));
        Assert.Equal([Reasons.UnknownSale, Reasons.UnknownSale], r.Select(x => x.Reason));
        Assert.False(await fx.Redis.GetDatabase().KeyExistsAsync(k.Stream));
    }

    [Fact]
    public async Task DeleteRemovesEveryKeyOfTheSale()
    {
        var sale = NewSale();
        await fx.Store.PreloadAsync(sale);
        await Reserve(sale, Guid.NewGuid());
        var k = new SaleKeys(sale.Namespace, sale.Name);
        Assert.Contains(sale.Name, await fx.Store.ListSalesAsync(sale.Namespace));
        await fx.Store.DeleteAsync(k);
        var server = fx.Redis.GetServer(fx.Redis.GetEndPoints()[0]);
        Assert.Empty(server.Keys(pattern: "fs:" + k.Tag + "*"));
        Assert.DoesNotContain(sale.Name, await fx.Store.ListSalesAsync(sale.Namespace));
        Assert.Equal(0, await fx.Store.DeleteAsync(k));
    }

    [Fact]
    public async Task GetTimeIsTheClockReserveOpensTheSaleBy()
    {
        var draft = NewSale(stock: 10);
        var k = new SaleKeys(draft.Namespace, draft.Name);
        var redisNow = await fx.Store.GetTimeAsync(k);
        // The window is stored in whole milliseconds, as reserve.lua compares it.
        var opens = DateTimeOffset.FromUnixTimeMilliseconds((redisNow + TimeSpan.FromMilliseconds(400)).ToUnixTimeMilliseconds());
        var sale = draft with { StartsAt = opens };
        await fx.Store.PreloadAsync(sale);
        int before = 0, after = 0;
        for (var deadline = DateTime.UtcNow.AddSeconds(10); DateTime.UtcNow < deadline;)
        {
            var readBefore = await fx.Store.GetTimeAsync(k);
            var answer = await Reserve(sale, Guid.NewGuid());
            var readAfter = await fx.Store.GetTimeAsync(k);
            Assert.True(readAfter >= readBefore, "Redis's clock went back");
            // Read wholly before the opening, the sale is not started; wholly after, it is open (in between, either).
            if (readAfter < opens) { Assert.Equal(Reasons.NotStarted, answer.Reason); before++; }
            if (readBefore >= opens) { Assert.Equal(ReserveOutcome.Accepted, answer.Outcome); after++; break; }
            await Task.Delay(5);
        }
        Assert.True(before > 0, "no reservation was decided before the opening");
        Assert.Equal(1, after);
    }
}
