using FlashSale.Sales;
using FlashSale.TestSupport;

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
        async Task ReserveAsync(SaleDefinition sale, int count)
        {
            var keys = new SaleKeys(w.Namespace, sale.Name);
            for (var i = 0; i < count; i++)
            {
                var r = await w.Store.ReserveAsync(keys, Guid.NewGuid(), "item", 1, Guid.CreateVersion7(), Guid.NewGuid().ToString(), TimeSpan.FromHours(1));
                Assert.Equal(ReserveOutcome.Accepted, r.Outcome);
            }
        }
        foreach (var sale in broken) await ReserveAsync(sale, 5);

        await using var orders = w.StartOrders();
        foreach (var sale in broken)
        {
            // Their orders are safe in PostgreSQL; their stream entries stay pending until the events can be published.
            await w.WaitForOrdersAsync(sale.Name, 5, drained: false);
            Assert.Equal(5, await w.Mux.GetDatabase().StreamLengthAsync(new SaleKeys(w.Namespace, sale.Name).Stream));
        }
        // Let the broken sales fail their claims for a while (a relay that backed off as a whole would now wait seconds).
        await Task.Delay(TimeSpan.FromSeconds(6));
        await ReserveAsync(healthy, 20);
        // In PostgreSQL, published, acknowledged and deleted from the stream, at the relay's usual pace.
        await w.WaitForOrdersAsync(healthy.Name, 20, timeout: TimeSpan.FromSeconds(2));
    }
}
