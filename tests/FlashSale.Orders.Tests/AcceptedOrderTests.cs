using System.Net;
using System.Net.Http.Json;
using FlashSale.TestSupport;

namespace FlashSale.Orders.Tests;

/// <summary>A 202 is usable at once: its Location answers and the order can be paid before the relay has written it.</summary>
public class AcceptedOrderTests : IAsyncLifetime
{
    SaleWorld _world = null!;

    public async Task InitializeAsync() => _world = await SaleWorld.CreateAsync();
    public async Task DisposeAsync() => await _world.DisposeAsync();

    [Fact]
    public async Task UnderABurstTheLocationAnswersAndThePaymentSucceedsRightAfterEach202ExactlyOnce()
    {
        const int buyers = 2, perBuyer = 25;
        var sale = await _world.NewSaleAsync(stock: buyers * perBuyer, limit: perBuyer);
        var users = _world.StartUsers(initialBalance: perBuyer * SaleWorld.Price);
        // A relay that reads every 3 s: most orders are still only in the Redis stream when their GET and payment arrive.
        var orders = _world.StartOrders(users: users.BaseAddress, tweak: s => s["Orders__Relay__IdleDelay"] = "00:00:03");
        using var usersHttp = users.Client();
        var tokens = new List<string>();
        for (var i = 0; i < buyers; i++) tokens.Add((await _world.RegisterAsync(usersHttp)).Token);
        using var http = Buyers.SharedClient(orders.BaseAddress, 64);

        var outcomes = await Task.WhenAll(Enumerable.Range(0, buyers * perBuyer).Select(async i =>
        {
            var token = tokens[i % buyers];
            using var placed = await http.SendAsync(Buyers.Order(sale.Name, "item", 1, token, Guid.NewGuid().ToString()));
            Assert.Equal(HttpStatusCode.Accepted, placed.StatusCode);
            var location = placed.Headers.Location!;
            var id = Guid.Parse(location.OriginalString[(location.OriginalString.LastIndexOf('/') + 1)..]);
            using var get = new HttpRequestMessage(HttpMethod.Get, location);
            get.Headers.Authorization = new("Bearer", token);
            var (read, paid) = (http.SendAsync(get), http.SendAsync(Buyers.Payment(id, token)));
            using var readAnswer = await read;
            using var payAnswer = await paid;
            return (Id: id, Get: readAnswer.StatusCode, View: readAnswer.IsSuccessStatusCode ? await readAnswer.Content.ReadFromJsonAsync<OrderView>() : null,
                Pay: payAnswer.StatusCode, Paid: payAnswer.IsSuccessStatusCode ? await payAnswer.Content.ReadFromJsonAsync<OrderView>() : null);
        }));

        Assert.All(outcomes, o =>
        {
            Assert.Equal(HttpStatusCode.OK, o.Get);
            Assert.Equal(o.Id, o.View!.OrderId);
            Assert.Contains(o.View.Status, new[] { "RESERVED", "PAID" });
            Assert.Equal(HttpStatusCode.OK, o.Pay);
            Assert.Equal("PAID", o.Paid!.Status);
        });
        await _world.WaitForOrdersAsync(sale.Name, buyers * perBuyer);
        Assert.Equal(buyers * perBuyer, await _world.OrdersInPostgresAsync(sale.Name));
        Assert.Equal(buyers * perBuyer, await _world.ScalarAsync("SELECT count(*) FROM orders.orders WHERE sale = @s AND status = 'PAID'", ("s", sale.Name)));
        Assert.Equal(buyers * perBuyer, await _world.ScalarAsync("SELECT count(DISTINCT order_id) FROM users.wallet_ledger WHERE kind = 'debit'"));
        Assert.Equal(buyers * perBuyer, await _world.ScalarAsync("SELECT count(*) FROM users.wallet_ledger WHERE kind = 'debit'"));
    }
}
