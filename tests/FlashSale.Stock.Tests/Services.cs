extern alias orderssvc;
using OrdersProgram = orderssvc::Program;

namespace FlashSale.Stock.Tests;

/// <summary>The stock service and the orders service that moves its figures, each with the world's settings.</summary>
static class Services
{
    public static ServiceHost<OrdersProgram> StartOrders(this SaleWorld world) => world.Start<OrdersProgram>(world.Orders());

    public static ServiceHost<Program> StartStock(this SaleWorld world, string sale) => world.Start<Program>(world.Stock(sale));
}
