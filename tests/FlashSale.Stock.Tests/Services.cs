extern alias orderssvc;
using FlashSale.Sales;
using OrdersProgram = orderssvc::Program;

namespace FlashSale.Stock.Tests;

/// <summary>The stock service and the orders service that moves its figures, each with the world's settings.</summary>
static class Services
{
    public static ServiceHost<OrdersProgram> StartOrders(this SaleWorld world) => world.Start<OrdersProgram>(world.Orders());

    /// <summary>A new sale with the orders service and the stock service for it.</summary>
    public static async Task<(SaleDefinition Sale, ServiceHost<OrdersProgram> Orders, ServiceHost<Program> Stock)> OpenSaleAsync(this SaleWorld world,
        long stock, int limit)
    {
        var sale = await world.NewSaleAsync(stock, limit);
        return (sale, world.StartOrders(), world.StartStock(sale.Name));
    }

    public static ServiceHost<Program> StartStock(this SaleWorld world, string sale) => world.Start<Program>(world.Stock(sale));
}
