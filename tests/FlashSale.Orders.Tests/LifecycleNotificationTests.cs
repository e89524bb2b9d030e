namespace FlashSale.Orders.Tests;

public class LifecycleNotificationTests : SaleWorldTests
{
    [Fact]
    public async Task EveryAcceptedPaidAndExpiredOrderGetsExactlyOneNotification()
    {
        var sale = await World.NewSaleAsync(stock: 10, limit: 2, paymentTimeout: TimeSpan.FromSeconds(5));
        var (users, orders) = World.StartPaying(expirySale: sale.Name);
        var notifications = World.StartNotifications(sale.Name);
        using var usersHttp = users.Client();
        using var http = orders.Client();
        var (buyer, token) = await World.RegisterAsync(usersHttp);
        var paid = await World.PlaceOrderAsync(http, sale.Name, token);
        var expired = await World.PlaceOrderAsync(http, sale.Name, token);
        await World.WaitForOrdersAsync(sale.Name, 2);
        using (var ok = await http.SendAsync(Buyers.Payment(paid, token))) Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        await Eventually.UntilAsync(async () => await World.StatusAsync(expired) == "EXPIRED", "the unpaid order expired");

        Task<long> SentAsync() => World.ScalarAsync("SELECT count(*) FROM notifications.notifications WHERE status = 'sent'");
        await Eventually.UntilAsync(async () => await SentAsync() == 4, "four notifications are sent");
        await Task.Delay(1000); // nothing more arrives
        using var mine = notifications.Client(TestTokens.Mint(buyer));
        var items = JsonDocument.Parse(await mine.GetStringAsync("/api/notifications")).RootElement.GetProperty("items").EnumerateArray()
            .Select(i => (Order: i.GetProperty("orderId").GetGuid(), Template: i.GetProperty("template").GetString()))
            .OrderBy(i => i.Template).ToList();
        Assert.Equal([(paid, "order-paid"), (expired, "order-expired"), (paid, "order-reserved"), (expired, "order-reserved")],
            items.OrderBy(i => i.Template == "order-reserved").ThenBy(i => i.Order == expired).ToList());
        Assert.Equal(4, await World.ScalarAsync("SELECT count(*) FROM notifications.notifications"));
    }
}
