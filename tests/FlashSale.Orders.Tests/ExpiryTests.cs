using System.Net.Http.Headers;

namespace FlashSale.Orders.Tests;

public class ExpiryTests : SaleWorldTests
{
    Task<long> UnreleasedAsync(string sale) => World.ScalarAsync(
        "SELECT count(*) FROM orders.orders WHERE sale = @s AND (status <> 'EXPIRED' OR released_at IS NULL)", ("s", sale));

    /// <summary>The users service and an orders replica that consumes the sale's expiry queue (and sweeps), with one registered buyer.</summary>
    async Task<(HttpClient Orders, string Buyer)> StartExpiringAsync(string sale)
    {
        var (users, orders) = World.StartPaying(expirySale: sale);
        using var usersHttp = users.Client();
        var (_, buyer) = await World.RegisterAsync(usersHttp);
        return (orders.Client(), buyer);
    }

    [Fact]
    public async Task UnpaidOrdersExpireTheirUnitsGoBackOnceAndAnotherBuyerGetsThem()
    {
        var sale = await World.NewSaleAsync(stock: 2, limit: 2, paymentTimeout: TimeSpan.FromSeconds(2));
        // The first replica consumes the sale's expiry queue (and sweeps).
        var (users, orders) = World.StartPaying(expirySale: sale.Name);
        var stock = World.StartStock(sale.Name);
        using var usersHttp = users.Client();
        using var http = orders.Client();
        var (_, first) = await World.RegisterAsync(usersHttp);
        var (_, second) = await World.RegisterAsync(usersHttp);
        var held = new[] { await World.PlaceOrderAsync(http, sale.Name, first), await World.PlaceOrderAsync(http, sale.Name, first) };
        await World.WaitForOrdersAsync(sale.Name, 2);

        await Eventually.UntilAsync(async () => await UnreleasedAsync(sale.Name) == 0, "both orders expired and released");
        var audit = await World.AuditAsync(stock, sale.Name);
        var item = audit.Products.Single();
        Assert.True(audit.Consistent, JsonSerializer.Serialize(audit));
        Assert.Equal(2, item.Remaining);
        Assert.Equal(2, item.ReleasedInRedis);
        Assert.Equal(2, item.UnitsReleasedInPostgres);

        using (var late = await http.SendAsync(Buyers.Payment(held[0], first)))
        {
            Assert.Equal(HttpStatusCode.Conflict, late.StatusCode);
            Assert.Contains("\"EXPIRED\"", await late.Content.ReadAsStringAsync());
        }
        await World.PlaceOrderAsync(http, sale.Name, second);
        await World.PlaceOrderAsync(http, sale.Name, second);
        await World.WaitForOrdersAsync(sale.Name, 4);

        // Restart: the process "died" between the expiry commit and recording the release of the first orders, and the new
        // replica consumes no expiry queue, so the sweep alone must expire the second buyer's orders and finish the rest.
        await World.StopAsync(orders);
        await World.ScalarAsync("UPDATE orders.orders SET released_at = NULL WHERE order_id = ANY(@ids)", ("ids", held));
        World.StartOrders(users: users.BaseAddress);
        await Eventually.UntilAsync(async () => await UnreleasedAsync(sale.Name) == 0, "all four orders expired and released");

        var keys = new SaleKeys(World.Namespace, sale.Name);
        Assert.Equal(4, await World.Mux.GetDatabase().SetLengthAsync(keys.ReleasedOrders));
        await Eventually.UntilAsync(async () => (await World.AuditAsync(stock, sale.Name)).Products.Single().ReleasedFromEvents == 4,
            "the stock service saw four order.expired events");
        audit = await World.AuditAsync(stock, sale.Name);
        item = audit.Products.Single();
        Assert.True(audit.Consistent, JsonSerializer.Serialize(audit));
        Assert.Equal(2, item.Remaining);
        Assert.Equal(4, item.ReleasedInRedis);
        Assert.Equal(4, item.ReleasedFromEvents);
        Assert.Equal(4, await World.ScalarAsync("SELECT count(*) FROM orders.outbox WHERE routing_key = 'order.expired'"));
    }

    [Fact]
    public async Task AnOrderOfASaleDeletedFromRedisExpiresWithoutCreatingTheSalesKeysAgain()
    {
        var sale = await World.NewSaleAsync(stock: 2, limit: 2, paymentTimeout: TimeSpan.FromSeconds(2));
        var (http, buyer) = await StartExpiringAsync(sale.Name);
        using var _ = http;
        await World.PlaceOrderAsync(http, sale.Name, buyer);
        await World.WaitForOrdersAsync(sale.Name, 1);

        // The sale is deleted (its FlashSale removed, or a local run cleaned up) before its unpaid order expires.
        var keys = new SaleKeys(World.Namespace, sale.Name);
        await World.Store.DeleteAsync(keys);
        await Eventually.UntilAsync(async () => await UnreleasedAsync(sale.Name) == 0, "the order expired and its release was recorded");

        // Releasing it must not create the sale's stock counters, buyer units or released set anew: keys of no sale, forever.
        foreach (var key in keys.All) Assert.False(await World.Mux.GetDatabase().KeyExistsAsync(key), $"{key} was created again");
    }

    [Fact]
    public async Task AnOrderDebitedButNeverMarkedPaidExpiresAndItsBuyerIsRefundedOnce()
    {
        var sale = await World.NewSaleAsync(stock: 5, limit: 2, paymentTimeout: TimeSpan.FromSeconds(2));
        var (users, orders) = World.StartPaying(expirySale: sale.Name, refundSale: sale.Name);
        using var usersHttp = users.Client();
        using var http = orders.Client();
        var (buyer, token) = await World.RegisterAsync(usersHttp);
        var order = await World.PlaceOrderAsync(http, sale.Name, token);
        var untouched = await World.PlaceOrderAsync(http, sale.Name, token);
        await World.WaitForOrdersAsync(sale.Name, 2);

        // A payment whose debit went through and whose process then died before marking the order paid; nobody retried,
        // so its lease lapsed long ago and the order falls due.
        using (var debit = new HttpRequestMessage(HttpMethod.Post, "/api/wallet/debits")
        {
            Content = JsonContent.Create(new { orderId = order, amount = SaleWorld.Price, currency = "EUR" }),
            Headers = { Authorization = new AuthenticationHeaderValue("Bearer", token) },
        })
        using (var debited = await usersHttp.SendAsync(debit)) Assert.Equal(HttpStatusCode.OK, debited.StatusCode);
        await World.ScalarAsync("UPDATE orders.orders SET payment_started_at = now() - interval '1 hour' WHERE order_id = @id", ("id", order));
        Assert.Equal(250m - SaleWorld.Price, await World.BalanceAsync(buyer));

        await Eventually.UntilAsync(async () => await World.StatusAsync(order) == "EXPIRED" && await World.StatusAsync(untouched) == "EXPIRED",
            "both orders expired");
        await Eventually.UntilAsync(async () => await World.BalanceAsync(buyer) == 250m, "the debited order's money is given back");
        Assert.Equal(1, await World.ScalarAsync("SELECT count(*) FROM users.wallet_ledger WHERE order_id = @id AND kind = 'refund'", ("id", order)));
        Assert.Equal(0, await World.ScalarAsync("SELECT count(*) FROM users.wallet_ledger WHERE order_id = @id", ("id", untouched)));
        // A late retry of the payment is refused as expired and charges nothing.
        using (var late = await http.SendAsync(Buyers.Payment(order, token))) Assert.Equal(HttpStatusCode.Conflict, late.StatusCode);
        Assert.Equal(250m, await World.BalanceAsync(buyer));
    }

    [Fact]
    public async Task AnOrderBeingPaidIsNotExpiredAndAPaidOrderNeverExpires()
    {
        var sale = await World.NewSaleAsync(stock: 10, limit: 2, paymentTimeout: TimeSpan.FromSeconds(2));
        var (http, buyer) = await StartExpiringAsync(sale.Name);
        using var _ = http;
        var paid = await World.PlaceOrderAsync(http, sale.Name, buyer);
        var leased = await World.PlaceOrderAsync(http, sale.Name, buyer);
        await World.WaitForOrdersAsync(sale.Name, 2);
        using (var ok = await http.SendAsync(Buyers.Payment(paid, buyer))) Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        // A payment attempt in flight (its debit outcome unknown) holds the lease: expiry must wait for it.
        await World.ScalarAsync("UPDATE orders.orders SET payment_started_at = now() WHERE order_id = @id", ("id", leased));

        await Task.Delay(TimeSpan.FromSeconds(4));
        Assert.Equal("PAID", await World.StatusAsync(paid));
        Assert.Equal("RESERVED", await World.StatusAsync(leased));
        // The attempt is retried after the due time and completes (the debit is idempotent per order).
        using (var ok = await http.SendAsync(Buyers.Payment(leased, buyer))) Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        Assert.Equal("PAID", await World.StatusAsync(leased));
        Assert.Equal(0, await World.ScalarAsync("SELECT count(*) FROM orders.outbox WHERE routing_key = 'order.expired'"));
    }

    [Fact]
    public async Task WithThePostgresGateAnExpiredOrderReturnsItsUnitToTheGateStockOnce()
    {
        var sale = await World.NewSaleAsync(stock: 1, limit: 1, paymentTimeout: TimeSpan.FromSeconds(2));
        var (users, orders) = World.StartPaying(gate: "postgres-row-lock");
        var stock = World.StartStock(sale.Name);
        using var usersHttp = users.Client();
        using var http = orders.Client();
        var (_, first) = await World.RegisterAsync(usersHttp);
        var (_, second) = await World.RegisterAsync(usersHttp);
        var held = await World.PlaceOrderAsync(http, sale.Name, first);

        await Eventually.UntilAsync(async () => await UnreleasedAsync(sale.Name) == 0, "the order expired and its unit returned");
        Assert.Equal(1, await World.ScalarAsync("SELECT remaining FROM orders.gate_stock WHERE sale = @s", ("s", sale.Name)));
        Assert.Equal(0, await World.ScalarAsync("SELECT coalesce(sum(quantity), 0) FROM orders.gate_purchases WHERE sale = @s", ("s", sale.Name)));
        Assert.Equal(1, await World.ScalarAsync("SELECT count(*) FROM orders.outbox WHERE event_id = @e", ("e", "order.expired:" + held)));

        await World.PlaceOrderAsync(http, sale.Name, second);
        Assert.Equal(0, await World.ScalarAsync("SELECT remaining FROM orders.gate_stock WHERE sale = @s", ("s", sale.Name)));
        var audit = await World.AuditAsync(stock, sale.Name);
        Assert.True(audit.Consistent, JsonSerializer.Serialize(audit));
    }
}
