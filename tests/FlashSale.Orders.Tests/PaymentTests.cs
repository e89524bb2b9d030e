namespace FlashSale.Orders.Tests;

public class PaymentTests : SaleWorldTests
{
    static async Task<string?> ReasonAsync(HttpResponseMessage response) =>
        JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.TryGetProperty("reason", out var r) ? r.GetString() : null;

    [Fact]
    public async Task AHundredConcurrentPaymentsOfOneOrderDebitTheWalletOnceAndAllSeePaid()
    {
        var sale = await World.NewSaleAsync();
        var (users, orders) = World.StartPaying();
        using var usersHttp = users.Client();
        using var http = orders.Client();
        var (buyer, token) = await World.RegisterAsync(usersHttp);
        var order = await World.PlaceOrderAsync(http, sale.Name, token);
        await World.WaitForOrdersAsync(sale.Name, 1);

        var answers = await Task.WhenAll(Enumerable.Range(0, 100).Select(async _ =>
        {
            using var response = await http.SendAsync(Buyers.Payment(order, token));
            return (response.StatusCode, Body: await response.Content.ReadAsStringAsync());
        }));

        Assert.All(answers, a => Assert.Equal(HttpStatusCode.OK, a.StatusCode));
        var views = answers.Select(a => JsonSerializer.Deserialize<OrderView>(a.Body, JsonSerializerOptions.Web)!).ToList();
        Assert.All(views, v => Assert.Equal("PAID", v.Status));
        Assert.Single(views.Select(v => v.PaidAt).Distinct());
        Assert.Equal(1, await World.ScalarAsync("SELECT count(*) FROM users.wallet_ledger WHERE order_id = @o AND kind = 'debit'", ("o", order)));
        Assert.Equal(250m - SaleWorld.Price, await World.BalanceAsync(buyer));
        Assert.Equal("PAID", await World.StatusAsync(order));
        Assert.Equal(1, await World.ScalarAsync("SELECT count(*) FROM orders.outbox WHERE event_id = @e", ("e", "order.paid:" + order)));

        using var again = await http.SendAsync(Buyers.Payment(order, token));
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        Assert.Equal(views[0], await again.Content.ReadFromJsonAsync<OrderView>());
    }

    [Fact]
    public async Task FiftyConcurrentPaymentsWithFundsForTenPayExactlyTenAndTheRestStayPayable()
    {
        var sale = await World.NewSaleAsync(stock: 100, limit: 50);
        var (users, orders) = World.StartPaying(initialBalance: 10 * SaleWorld.Price);
        using var usersHttp = users.Client();
        using var http = orders.Client();
        var (buyer, token) = await World.RegisterAsync(usersHttp);
        var ids = new List<Guid>();
        for (var i = 0; i < 50; i++) ids.Add(await World.PlaceOrderAsync(http, sale.Name, token));
        await World.WaitForOrdersAsync(sale.Name, 50);

        var answers = await Task.WhenAll(ids.Select(async id =>
        {
            using var response = await http.SendAsync(Buyers.Payment(id, token));
            return (Id: id, response.StatusCode, Reason: response.IsSuccessStatusCode ? null : await ReasonAsync(response));
        }));

        Assert.Equal(10, answers.Count(a => a.StatusCode == HttpStatusCode.OK));
        Assert.All(answers.Where(a => a.StatusCode != HttpStatusCode.OK), a =>
        {
            Assert.Equal(HttpStatusCode.Conflict, a.StatusCode);
            Assert.Equal("INSUFFICIENT_FUNDS", a.Reason);
        });
        Assert.Equal(0m, await World.BalanceAsync(buyer));
        Assert.Equal(10, await World.ScalarAsync("SELECT count(*) FROM users.wallet_ledger WHERE user_id = @u AND kind = 'debit'", ("u", buyer)));
        Assert.Equal(0, await World.ScalarAsync("SELECT count(*) FROM users.wallet_ledger WHERE balance_after < 0"));
        Assert.Equal(10, await World.ScalarAsync("SELECT count(*) FROM orders.orders WHERE status = 'PAID'"));
        Assert.Equal(40, await World.ScalarAsync("SELECT count(*) FROM orders.orders WHERE status = 'RESERVED'"));

        // Still payable: after a top-up the same order is paid.
        var unpaid = answers.First(a => a.StatusCode != HttpStatusCode.OK).Id;
        using (var admin = users.Client(TestTokens.Mint(Guid.NewGuid(), "root", admin: true)))
        {
            using var topUp = await admin.PostAsJsonAsync($"/api/users/{buyer}/wallet/topups", new { amount = SaleWorld.Price });
            Assert.Equal(HttpStatusCode.OK, topUp.StatusCode);
        }
        using var paid = await http.SendAsync(Buyers.Payment(unpaid, token));
        Assert.Equal(HttpStatusCode.OK, paid.StatusCode);
        Assert.Equal(0m, await World.BalanceAsync(buyer));
    }

    [Fact]
    public async Task OnlyTheOwnerCanPayAndAnUnknownOrderIsARetryableNotFound()
    {
        var sale = await World.NewSaleAsync();
        var (users, orders) = World.StartPaying();
        using var usersHttp = users.Client();
        using var http = orders.Client();
        var (_, owner) = await World.RegisterAsync(usersHttp);
        var (_, other) = await World.RegisterAsync(usersHttp);
        var order = await World.PlaceOrderAsync(http, sale.Name, owner);
        await World.WaitForOrdersAsync(sale.Name, 1);

        using var byOther = await http.SendAsync(Buyers.Payment(order, other));
        Assert.Equal(HttpStatusCode.NotFound, byOther.StatusCode);
        Assert.Equal("ORDER_NOT_FOUND", await ReasonAsync(byOther));
        Assert.NotNull(byOther.Headers.RetryAfter);
        using var unknown = await http.SendAsync(Buyers.Payment(Guid.NewGuid(), owner));
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        using var anonymous = await http.PostAsync($"/api/orders/{order}/payment", null);
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.Equal("RESERVED", await World.StatusAsync(order));
    }
}
