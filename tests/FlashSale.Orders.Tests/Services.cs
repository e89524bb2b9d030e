extern alias notifsvc;
extern alias stocksvc;
extern alias userssvc;
using NotificationsProgram = notifsvc::Program;
using StockProgram = stocksvc::Program;
using UsersProgram = userssvc::Program;

namespace FlashSale.Orders.Tests;

public sealed record OrderView(Guid OrderId, string Sale, string Sku, int Quantity, decimal UnitPrice, string Currency, string Status,
    DateTimeOffset CreatedAt, DateTimeOffset PaymentDueAt, DateTimeOffset? PaidAt, DateTimeOffset? ExpiredAt);

/// <summary>The services these tests run beside the orders service, each with the world's settings.</summary>
static class Services
{
    public static ServiceHost<Program> StartOrders(this SaleWorld world, string gate = "redis", Uri? users = null,
        Action<Dictionary<string, string?>>? tweak = null) => world.Start<Program>(world.Orders(gate, users), tweak);

    /// <summary>A new sale with the orders service and the stock service for it.</summary>
    public static async Task<(SaleDefinition Sale, ServiceHost<Program> Orders, ServiceHost<StockProgram> Stock)> OpenSaleAsync(this SaleWorld world,
        long stock = 100, int limit = 1)
    {
        var sale = await world.NewSaleAsync(stock, limit);
        return (sale, world.StartOrders(), world.StartStock(sale.Name));
    }

    public static ServiceHost<StockProgram> StartStock(this SaleWorld world, string sale) => world.Start<StockProgram>(world.Stock(sale));

    public static ServiceHost<UsersProgram> StartUsers(this SaleWorld world, int port = 0, decimal initialBalance = 250m, string? sale = null) =>
        world.Start<UsersProgram>(world.Users(initialBalance, sale), port: port);

    /// <summary>
    /// The users service and an orders service paying through it; with <paramref name="expirySale"/> the orders service also
    /// consumes that sale's expiry queue (and sweeps).
    /// </summary>
    public static (ServiceHost<UsersProgram> Users, ServiceHost<Program> Orders) StartPaying(this SaleWorld world, string? expirySale = null,
        decimal initialBalance = 250m, string? refundSale = null, string gate = "redis")
    {
        var users = world.StartUsers(initialBalance: initialBalance, sale: refundSale);
        var orders = world.StartOrders(gate, users.BaseAddress, s => s["Orders:Expiry:Sales"] = expirySale);
        return (users, orders);
    }

    public static ServiceHost<NotificationsProgram> StartNotifications(this SaleWorld world, string sale) =>
        world.Start<NotificationsProgram>(world.Notifications(sale));

    public static Task<stocksvc::FlashSale.Stock.SaleAudit> AuditAsync(this SaleWorld world, ServiceHost<StockProgram> stock, string sale) =>
        SaleWorld.AuditAsync<stocksvc::FlashSale.Stock.SaleAudit>(stock.BaseAddress, sale);
}
