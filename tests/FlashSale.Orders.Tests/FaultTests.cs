using FlashSale.Contracts;
using FlashSale.Messaging;

namespace FlashSale.Orders.Tests;

/// <summary>Faults on the order path, against private servers this class stops and starts (the shared ones stay up).</summary>
[Collection(nameof(FaultTests))]
[CollectionDefinition(nameof(FaultTests), DisableParallelization = true)]
public class FaultTests
{
    /// <summary>Sends <paramref name="count"/> orders of new buyers at once (64 connections); each answer's status, Retry-After and body.</summary>
    static async Task<(HttpStatusCode Status, string? RetryAfter, string Body)[]> SendOrdersAsync(ServiceHost<Program> orders, string sale, int count)
    {
        using var http = Buyers.SharedClient(orders.BaseAddress, 64);
        return await Task.WhenAll(Enumerable.Range(0, count).Select(async _ =>
        {
            using var r = await http.SendAsync(Buyers.Order(sale, "item", 1, TestTokens.Mint(Guid.NewGuid()), Guid.NewGuid().ToString()));
            return (r.StatusCode, r.Headers.RetryAfter?.ToString(), await r.Content.ReadAsStringAsync());
        })).WaitAsync(TimeSpan.FromSeconds(60));
    }

    static async Task<int> PlaceOrdersAsync(ServiceHost<Program> orders, string sale, int count)
    {
        var answers = await SendOrdersAsync(orders, sale, count);
        Assert.All(answers, a => Assert.Equal(HttpStatusCode.Accepted, a.Status));
        return answers.Length;
    }

    /// <summary>
    /// A world whose <paramref name="server"/> ("postgres", "redis" or "rabbitmq") is a private one the test may stop and
    /// start, with a sale of 500 units (limit 1) and an orders service; disposed, it disposes the world, then that server.
    /// </summary>
    sealed class PrivateServerWorld(PrivateInfra infra, SaleWorld world, SaleDefinition sale, ServiceHost<Program> orders) : IAsyncDisposable
    {
        public PrivateInfra Infra => infra;
        public SaleWorld World => world;
        public SaleDefinition Sale => sale;
        public ServiceHost<Program> Orders => orders;

        public static async Task<PrivateServerWorld> StartAsync(string name, string server)
        {
            var infra = new PrivateInfra(name);
            SaleWorld? world = null;
            try
            {
                await infra.StartAsync(server);
                world = await SaleWorld.CreateAsync(postgres: server == "postgres" ? infra.Postgres : null,
                    redis: server == "redis" ? infra.Redis : null, rabbitMq: server == "rabbitmq" ? infra.RabbitMq : null);
                var sale = await world.NewSaleAsync(stock: 500, limit: 1);
                return new PrivateServerWorld(infra, world, sale, world.StartOrders());
            }
            catch
            {
                if (world is not null) await world.DisposeAsync();
                await infra.DisposeAsync();
                throw;
            }
        }

        public async ValueTask DisposeAsync()
        {
            await world.DisposeAsync();
            await infra.DisposeAsync();
        }
    }

    /// <summary>
    /// Asserts that <paramref name="queue"/> holds each order's order.reserved event once, taking them off it. Call it once
    /// every order is relayed (the stream drained): the relay trims a batch only after the broker confirmed its pack.
    /// </summary>
    static async Task AssertEachOrderQueuedOnceAsync(string rabbitMq, string queue, long orders)
    {
        var ids = await QueuedEvents.TakeIdsAsync(rabbitMq, queue);
        Assert.Equal(orders, ids.Count);
        Assert.Equal(orders, ids.Distinct().Count());
        Assert.All(ids, id => Assert.StartsWith(OrderEventTypes.Reserved, id));
    }

    [Fact]
    public async Task WithRabbitMqStoppedOrdersAreAcceptedAndReachPostgresAndRabbitMqAfterItReturns()
    {
        await using var setup = await PrivateServerWorld.StartAsync("orders-rmq", "rabbitmq");
        var (infra, world, sale, orders) = (setup.Infra, setup.World, setup.Sale, setup.Orders);
        await infra.StopAsync("rabbitmq");

        var placed = await PlaceOrdersAsync(orders, sale.Name, 150);
        // PostgreSQL gets the orders at once; their events wait in the stream (unacknowledged) for the broker.
        await world.WaitForOrdersAsync(sale.Name, placed, drained: false);
        Assert.Equal(placed, await world.Mux.GetDatabase().StreamLengthAsync(new SaleKeys(world.Namespace, sale.Name).Stream));

        await infra.StartAsync("rabbitmq");
        await world.WaitForOrdersAsync(sale.Name, placed, TimeSpan.FromSeconds(60));
        var topology = new SaleTopology(world.Namespace, sale.Name);
        await AssertEachOrderQueuedOnceAsync(infra.RabbitMq, topology.StockQueue, placed);
        await AssertEachOrderQueuedOnceAsync(infra.RabbitMq, topology.NotificationsQueue, placed);
        Assert.Equal(350, (await world.Store.GetStockAsync(new SaleKeys(world.Namespace, sale.Name)))[0].Remaining);
    }

    [Fact]
    public async Task WithPostgresStoppedOrdersAreAcceptedAndReachPostgresAfterItReturns()
    {
        await using var setup = await PrivateServerWorld.StartAsync("orders-pg", "postgres");
        var (infra, world, sale, orders) = (setup.Infra, setup.World, setup.Sale, setup.Orders);
        using (var warm = orders.Client()) Assert.Equal(HttpStatusCode.OK, (await warm.GetAsync("/healthz/live")).StatusCode);
        await infra.StopAsync("postgres");

        using (var probe = orders.Client())
        {
            // Still ready (Degraded): the Redis gate does not need PostgreSQL on the request path.
            using var ready = await probe.GetAsync("/healthz/ready");
            Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
            Assert.Contains("Degraded", await ready.Content.ReadAsStringAsync());
        }
        var placed = await PlaceOrdersAsync(orders, sale.Name, 150);
        var keys = new SaleKeys(world.Namespace, sale.Name);
        Assert.Equal(placed, await world.Mux.GetDatabase().StreamLengthAsync(keys.Stream));

        await infra.StartAsync("postgres");
        await world.WaitForOrdersAsync(sale.Name, placed, TimeSpan.FromSeconds(60));
        await AssertEachOrderQueuedOnceAsync(world.RabbitMq, new SaleTopology(world.Namespace, sale.Name).StockQueue, placed);
    }

    [Fact]
    public async Task ARelayKilledBetweenItsDatabaseWriteAndItsAckProducesNoDuplicateAfterRestart()
    {
        await using var world = await SaleWorld.CreateAsync();
        var sale = await world.NewSaleAsync(stock: 300, limit: 1);
        // This relay writes PostgreSQL, then cannot publish (its broker address is dead), so it never acknowledges.
        var doomed = world.StartOrders(tweak: s => s["ConnectionStrings:RabbitMq"] = "amqp://guest:guest@127.0.0.1:1/");
        var placed = await PlaceOrdersAsync(doomed, sale.Name, 200);
        var keys = new SaleKeys(world.Namespace, sale.Name);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (await world.OrdersInPostgresAsync(sale.Name) < placed && DateTime.UtcNow < deadline) await Task.Delay(100);
        Assert.Equal(placed, await world.OrdersInPostgresAsync(sale.Name));
        Assert.Equal(placed, await world.Mux.GetDatabase().StreamLengthAsync(keys.Stream));
        await doomed.DisposeAsync();

        var successor = world.StartOrders();
        var stock = world.StartStock(sale.Name);
        await world.WaitForOrdersAsync(sale.Name, placed, TimeSpan.FromSeconds(60));
        Assert.Equal(placed, await world.ScalarAsync("SELECT count(DISTINCT order_id) FROM orders.orders WHERE sale = @s", ("s", sale.Name)));
        var audit = await world.AuditAsync(stock, sale.Name);
        Assert.True(audit.Consistent);
        Assert.Equal(0, audit.DuplicateOrders);
        // The stock service applied every order.reserved event exactly once.
        var applied = DateTime.UtcNow.AddSeconds(30);
        while ((await world.AuditAsync(stock, sale.Name)).Products[0].ReservedFromEvents != placed && DateTime.UtcNow < applied) await Task.Delay(200);
        Assert.Equal(placed, (await world.AuditAsync(stock, sale.Name)).Products[0].ReservedFromEvents);
    }

    [Fact]
    public async Task WithRedisStoppedOrdersAndStockViewsAreAnswered503AndTheSaleGoesOnWhenItReturns()
    {
        await using var setup = await PrivateServerWorld.StartAsync("orders-redis", "redis");
        var (infra, world, sale, orders) = (setup.Infra, setup.World, setup.Sale, setup.Orders);
        var stock = world.StartStock(sale.Name);
        var before = await PlaceOrdersAsync(orders, sale.Name, 60);
        await infra.StopAsync("redis");

        // Every order (queued behind one another in the coalescing lane or not) gets a 503 with a reason and Retry-After:
        // no 500, no stack trace, no answer left hanging.
        Assert.All(await SendOrdersAsync(orders, sale.Name, 40), a =>
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, a.Status);
            Assert.Equal("5", a.RetryAfter);
            Assert.Contains("DEPENDENCY_UNAVAILABLE", a.Body);
            Assert.DoesNotContain("StackExchange", a.Body);
        });
        // The stock service's views read Redis too: 503 with a reason there as well.
        using (var view = stock.Client())
        {
            using var products = await view.GetAsync($"/api/sales/{sale.Name}/products").WaitAsync(TimeSpan.FromSeconds(60));
            Assert.Equal(HttpStatusCode.ServiceUnavailable, products.StatusCode);
            Assert.Contains("DEPENDENCY_UNAVAILABLE", await products.Content.ReadAsStringAsync());
        }

        // Redis back (its AOF kept the sale and the orders): the replica reconnects and sells on.
        await infra.StartAsync("redis");
        await Eventually.UntilAsync(async () =>
        {
            using var probe = orders.Client();
            return (await probe.GetAsync("/healthz/ready")).StatusCode == HttpStatusCode.OK;
        }, "the orders replica is ready again after Redis returned", TimeSpan.FromSeconds(60));
        var after = await PlaceOrdersAsync(orders, sale.Name, 60);
        await world.WaitForOrdersAsync(sale.Name, before + after, TimeSpan.FromSeconds(60));
        var audit = await world.AuditAsync(stock, sale.Name);
        Assert.True(audit.Consistent);
        Assert.Equal(500 - before - after, audit.Products.Single().Remaining);
    }
}
