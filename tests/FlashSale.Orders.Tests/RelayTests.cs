using Microsoft.Extensions.DependencyInjection;

namespace FlashSale.Orders.Tests;

/// <summary>The stream relay with several sales in one namespace, against real Redis, PostgreSQL and RabbitMQ.</summary>
public class RelayTests
{
    [Fact]
    public async Task ASaleWhoseEventsCannotBePublishedDoesNotHoldUpTheOtherSales()
    {
        await using var w = await SaleWorld.CreateAsync();
        // Three sales without a RabbitMQ topology (their order.reserved cannot be published) and one with: whatever order
        // the relay meets them in, the healthy one must be drained.
        var broken = new List<SaleDefinition>();
        for (var i = 0; i < 3; i++) broken.Add(await w.NewSaleAsync(declareTopology: false));
        var healthy = await w.NewSaleAsync();
        foreach (var sale in broken) await ReserveAsync(w, new SaleKeys(w.Namespace, sale.Name), 5);

        await using var orders = w.StartOrders();
        foreach (var sale in broken)
        {
            // Their orders are safe in PostgreSQL; their stream entries stay pending until the events can be published.
            await w.WaitForOrdersAsync(sale.Name, 5, drained: false);
            Assert.Equal(5, await w.Mux.GetDatabase().StreamLengthAsync(new SaleKeys(w.Namespace, sale.Name).Stream));
        }
        // Let the broken sales fail their retries for a while (a relay that backed off as a whole would now wait seconds).
        await Task.Delay(TimeSpan.FromSeconds(6));
        await ReserveAsync(w, new SaleKeys(w.Namespace, healthy.Name), 20);
        // In PostgreSQL, published and trimmed from the stream, at the relay's usual pace.
        await w.WaitForOrdersAsync(healthy.Name, 20, timeout: TimeSpan.FromSeconds(2));
    }

    [Fact]
    public async Task AnOrderAlreadyInPostgresThatArrivesAgainAsANewEntryIsSkippedAndTheRestOfItsBatchIsWritten()
    {
        await using var w = await SaleWorld.CreateAsync();
        var sale = await w.NewSaleAsync();
        var keys = new SaleKeys(w.Namespace, sale.Name);
        await ReserveAsync(w, keys, 5);
        await using (var first = w.StartOrders()) await w.WaitForOrdersAsync(sale.Name, 5);

        // With no relay running, one of those orders comes back as a fresh stream entry (as after Redis came back from a copy
        // older than the relay's trim) between three new orders, so one batch holds all four.
        await using (var cmd = w.Db.CreateCommand("SELECT order_id, user_id, idempotency_key, created_at FROM orders.orders WHERE namespace = @ns AND sale = @sale LIMIT 1"))
        {
            cmd.Parameters.AddWithValue("ns", w.Namespace);
            cmd.Parameters.AddWithValue("sale", sale.Name);
            await using var row = await cmd.ExecuteReaderAsync();
            Assert.True(await row.ReadAsync());
            await ReserveAsync(w, keys, 1);
            await w.Mux.GetDatabase().StreamAddAsync(keys.Stream, [
                new("id", row.GetGuid(0).ToString()), new("user", row.GetGuid(1).ToString("N")), new("sku", "item"), new("qty", 1),
                new("price", "10"), new("key", row.GetString(2)), new("ts", new DateTimeOffset(row.GetDateTime(3)).ToUnixTimeMilliseconds()), new("email", ""),
            ]);
            await ReserveAsync(w, keys, 2);
        }
        Assert.Equal(4, await w.Mux.GetDatabase().StreamLengthAsync(keys.Stream));

        // A batch that failed on the repeated order would fail again each time it is read from the stream's head: the batch
        // itself must skip the order already there and write the three new ones.
        await using var orders = w.StartOrders();
        await w.WaitForOrdersAsync(sale.Name, 8, timeout: TimeSpan.FromSeconds(20));
    }

    /// <summary>Reserves <paramref name="count"/> orders straight into the sale's stream (each accepted), no orders service involved.</summary>
    static async Task ReserveAsync(SaleWorld w, SaleKeys keys, int count)
    {
        for (var i = 0; i < count; i++)
        {
            var r = await w.Store.ReserveAsync(keys, Guid.NewGuid(), "item", 1, Guid.CreateVersion7(), Guid.NewGuid().ToString(), TimeSpan.FromHours(1));
            Assert.Equal(ReserveOutcome.Accepted, r.Outcome);
        }
    }

    [Fact]
    public async Task ASaleLeasedByAReplicaThatDiedWaitsOnlyUntilTheLeaseExpiresThenIsRelayedWhole()
    {
        await using var w = await SaleWorld.CreateAsync();
        var sale = await w.NewSaleAsync();
        var keys = new SaleKeys(w.Namespace, sale.Name);
        var redis = w.Mux.GetDatabase();
        await ReserveAsync(w, keys, 5);
        // The lease of a replica killed a moment ago (no graceful stop, so it was not released): 10 s left.
        await redis.StringSetAsync(keys.RelayLease, "a-replica-that-died", TimeSpan.FromSeconds(10));

        // The host's start (its migrations) eats into the lease, so watch for as long as the lease lives rather than for a
        // fixed time: meanwhile the running relay, which lists its sales every second, must leave the sale alone.
        await using var orders = w.StartOrders();
        var checks = 0;
        while (await redis.KeyTimeToLiveAsync(keys.RelayLease) is { } left && left > TimeSpan.FromSeconds(0.5))
        {
            Assert.Equal(0, await w.OrdersInPostgresAsync(sale.Name));
            Assert.Equal(5, await redis.StreamLengthAsync(keys.Stream));
            checks++;
            await Task.Delay(200);
        }
        Assert.True(checks >= 10, $"the relay ran for at least 2 s under the dead replica's lease (only {checks} checks)");

        await w.WaitForOrdersAsync(sale.Name, 5, timeout: TimeSpan.FromSeconds(10));
        var holder = (string?)await redis.StringGetAsync(keys.RelayLease);
        Assert.NotNull(holder);
        Assert.NotEqual("a-replica-that-died", holder);
        Assert.True(await redis.KeyTimeToLiveAsync(keys.RelayLease) is { } ttl && ttl <= TimeSpan.FromSeconds(2), "the lease always has a TTL");
    }

    [Fact]
    public async Task AReplicaThatStopsHandsItsSalesOverAtOnceAndNeitherWritesAnOrderTwice()
    {
        await using var w = await SaleWorld.CreateAsync();
        var sale = await w.NewSaleAsync(stock: 1000, limit: 10);
        var keys = new SaleKeys(w.Namespace, sale.Name);
        var redis = w.Mux.GetDatabase();
        // Leases far longer than the test: a successor that had to wait for one to expire would time out below.
        static void Long(Dictionary<string, string?> s) => s["Orders:Relay:LeaseTime"] = "00:01:00";
        // Both disposed at the end whatever happens (disposing a stopped one again does nothing).
        await using var first = w.StartOrders(tweak: Long);
        await using var second = w.StartOrders(tweak: Long);
        await ReserveAsync(w, keys, 30);
        await w.WaitForOrdersAsync(sale.Name, 30);
        var holder = (string?)await redis.StringGetAsync(keys.RelayLease);
        Assert.NotNull(holder);

        static string OwnerOf(IServiceProvider host) => host.GetRequiredService<Relay.OrderStreamRelay>().Owner;
        // Stop whichever replica holds the sale (the other's relay has been waiting for the lease all along).
        var holderIsFirst = holder == OwnerOf(first.Services);
        Assert.True(holderIsFirst || holder == OwnerOf(second.Services));
        await (holderIsFirst ? first : second).DisposeAsync();
        // Released (gone, or already taken by the other replica, which looks every second), not left to run out its minute.
        Assert.NotEqual(holder, (string?)await redis.StringGetAsync(keys.RelayLease));

        await ReserveAsync(w, keys, 20);
        var survivor = holderIsFirst ? second : first;
        await w.WaitForOrdersAsync(sale.Name, 50, timeout: TimeSpan.FromSeconds(10));
        Assert.Equal(OwnerOf(survivor.Services), (string?)await redis.StringGetAsync(keys.RelayLease));
        Assert.Equal(50, await w.ScalarAsync("SELECT count(DISTINCT order_id) FROM orders.orders WHERE namespace = @ns AND sale = @s",
            ("ns", w.Namespace), ("s", sale.Name)));
    }

    [Theory]
    [InlineData("Orders:Relay:LeaseTime", "00:00:00.100")]
    [InlineData("Orders:Relay:Workers", "0")]
    [InlineData("Orders:Relay:BatchSize", "0")]
    [InlineData("Orders:Relay:IdleDelay", "-00:00:01")]
    public async Task ARelaySettingOutOfRangeStopsTheServiceAtStartWithTheSettingsName(string key, string value)
    {
        await using var w = await SaleWorld.CreateAsync();
        var e = Record.Exception(() => w.StartOrders(tweak: s => s[key] = value));
        Assert.NotNull(e);
        var validation = e as Microsoft.Extensions.Options.OptionsValidationException ?? e.InnerException as Microsoft.Extensions.Options.OptionsValidationException;
        Assert.NotNull(validation);
        // Named alone: the message of each setting names that setting only.
        Assert.Equal([key], validation.Failures.Select(f => f.Split(' ')[0]));
    }

    [Theory]
    [InlineData("1763874000000-0", "1763874000000-1")]
    [InlineData("1763874000000-41", "1763874000000-42")]
    [InlineData("5-18446744073709551615", "6-0")]
    public void TheStreamIsTrimmedUpToTheIdJustAfterABatchsLastEntry(string last, string next) =>
        Assert.Equal(next, Relay.OrderStreamRelay.Successor(last));
}
