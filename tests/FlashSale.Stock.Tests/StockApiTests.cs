using System.Net;
using System.Text.Json;

namespace FlashSale.Stock.Tests;

public class StockApiTests : SaleWorldTests
{
    [Fact]
    public async Task ProductsShowLiveRemainingStockAndUnknownOnesAre404()
    {
        var (sale, orders, stock) = await World.OpenSaleAsync(stock: 7, limit: 3);
        using var buy = orders.Client();
        using var r = await buy.SendAsync(Buyers.Order(sale.Name, "item", 3, TestTokens.Mint(Guid.NewGuid()), "k"));
        Assert.Equal(HttpStatusCode.Accepted, r.StatusCode);

        using var http = stock.Client();
        var view = JsonDocument.Parse(await http.GetStringAsync($"/api/sales/{sale.Name}/products")).RootElement;
        Assert.Equal("LIVE", view.GetProperty("status").GetString());
        var product = view.GetProperty("products")[0];
        Assert.Equal((7, 4), (product.GetProperty("stock").GetInt64(), product.GetProperty("remaining").GetInt64()));
        Assert.Equal(("item", "Item"), (product.GetProperty("sku").GetString(), product.GetProperty("name").GetString()));
        Assert.Equal(4, JsonDocument.Parse(await http.GetStringAsync($"/api/sales/{sale.Name}/products/item")).RootElement.GetProperty("remaining").GetInt64());
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync($"/api/sales/{sale.Name}/products/nope")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync("/api/sales/no-such-sale/products")).StatusCode);
    }

    [Fact]
    public async Task TheAuditNeedsAnAdmin()
    {
        var sale = await World.NewSaleAsync(declareTopology: false);
        var stock = World.StartStock(sale.Name);
        using var anonymous = stock.Client();
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync($"/api/sales/{sale.Name}/audit")).StatusCode);
        using var buyer = stock.Client(TestTokens.Mint(Guid.NewGuid()));
        Assert.Equal(HttpStatusCode.Forbidden, (await buyer.GetAsync($"/api/sales/{sale.Name}/audit")).StatusCode);
    }

    [Fact]
    public async Task TheStockStreamSendsASnapshotThenEachChange()
    {
        var (sale, orders, stock) = await World.OpenSaleAsync(stock: 10, limit: 5);
        using var http = stock.Client();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var response = await http.GetAsync($"/api/sales/{sale.Name}/stock/stream", HttpCompletionOption.ResponseHeadersRead, cts.Token);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType!.MediaType);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cts.Token));

        async Task<long> NextRemainingAsync()
        {
            while (true)
            {
                var line = await reader.ReadLineAsync(cts.Token) ?? throw new EndOfStreamException();
                if (line.StartsWith("data: ")) return JsonDocument.Parse(line[6..]).RootElement.GetProperty("remaining").GetInt64();
            }
        }

        Assert.Equal(10, await NextRemainingAsync());
        using var buy = orders.Client();
        using var r = await buy.SendAsync(Buyers.Order(sale.Name, "item", 2, TestTokens.Mint(Guid.NewGuid()), "k"));
        Assert.Equal(HttpStatusCode.Accepted, r.StatusCode);
        Assert.Equal(8, await NextRemainingAsync());
    }
}
