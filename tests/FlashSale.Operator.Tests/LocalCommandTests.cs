using FlashSale.Messaging;
using FlashSale.Sales;
using FlashSale.TestSupport;
using RabbitMQ.Client;
using StackExchange.Redis;

namespace FlashSale.Operator.Tests;

public class LocalCommandTests
{
    [Fact]
    public async Task LocalPreloadsTheStockAndDeclaresTheQueuesOfTheSaleFile()
    {
        await Infra.RequireAsync(postgres: false);
        var ns = "local-" + Guid.NewGuid().ToString("N")[..10];
        var file = WriteSale(ns, "spring", stock: 40);
        var output = new StringWriter();
        try
        {
            var code = await LocalCommand.RunAsync(["--file", file, "--redis", Infra.Redis, "--rabbitmq", Infra.RabbitMq], output, output);

            Assert.True(code == 0, output.ToString());
            await using var redis = await ConnectionMultiplexer.ConnectAsync(Infra.Redis);
            var stock = await new SaleStore(redis).GetStockAsync(new SaleKeys(ns, "spring"));
            Assert.Equal(40, Assert.Single(stock).Remaining);
            await using var connection = await new ConnectionFactory { Uri = new Uri(Infra.RabbitMq) }.CreateConnectionAsync();
            Assert.True(await new SaleTopology(ns, "spring").ExistsAsync(connection));
            Assert.Contains("tea", output.ToString());
            Assert.Contains($"flashsale.{ns}.spring.stock", output.ToString());
        }
        finally
        {
            await CleanUpAsync(ns, "spring");
            File.Delete(file);
        }
    }

    [Fact]
    public async Task LocalRunTwiceWithMoreStockAddsTheDifference()
    {
        await Infra.RequireAsync(postgres: false);
        var ns = "local-" + Guid.NewGuid().ToString("N")[..10];
        var first = WriteSale(ns, "again", stock: 10);
        var second = WriteSale(ns, "again", stock: 15);
        try
        {
            Assert.Equal(0, await LocalCommand.RunAsync(["--file", first, "--redis", Infra.Redis, "--rabbitmq", Infra.RabbitMq], TextWriter.Null, TextWriter.Null));
            Assert.Equal(0, await LocalCommand.RunAsync(["--file", second, "--redis", Infra.Redis, "--rabbitmq", Infra.RabbitMq], TextWriter.Null, TextWriter.Null));

            await using var redis = await ConnectionMultiplexer.ConnectAsync(Infra.Redis);
            var product = Assert.Single(await new SaleStore(redis).GetStockAsync(new SaleKeys(ns, "again")));
            Assert.Equal(15, product.Initial);
            Assert.Equal(15, product.Remaining);
        }
        finally
        {
            await CleanUpAsync(ns, "again");
            File.Delete(first);
            File.Delete(second);
        }
    }

    [Fact]
    public async Task LocalRefusesAnInvalidSaleNamingTheFieldAndProvisionsNothing()
    {
        var ns = "local-" + Guid.NewGuid().ToString("N")[..10];
        var file = WriteSale(ns, "broken", stock: 5, perUserLimit: 0);
        var error = new StringWriter();
        try
        {
            var code = await LocalCommand.RunAsync(["--file", file, "--redis", Infra.Redis, "--rabbitmq", Infra.RabbitMq], TextWriter.Null, error);

            Assert.Equal(2, code);
            Assert.Contains("spec.products[0].perUserLimit", error.ToString());
            await using var redis = await ConnectionMultiplexer.ConnectAsync(Infra.Redis);
            Assert.Empty(await new SaleStore(redis).GetStockAsync(new SaleKeys(ns, "broken")));
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task LocalWithoutAFileExplainsTheUsage()
    {
        var error = new StringWriter();
        Assert.Equal(2, await LocalCommand.RunAsync([], TextWriter.Null, error));
        Assert.Contains("local --file", error.ToString());
    }

    static string WriteSale(string ns, string name, long stock, int perUserLimit = 2)
    {
        var path = Path.Combine(Path.GetTempPath(), $"{ns}-{name}-{Guid.NewGuid():N}.yaml");
        File.WriteAllText(path, $"""
            apiVersion: flashsale.dev/v1alpha1
            kind: FlashSale
            metadata:
              name: {name}
              namespace: {ns}
            spec:
              schedule:
                startsAt: "2030-01-01T10:00:00Z"
                endsAt: "2030-01-01T11:00:00Z"
              paymentTimeout: 10m
              products:
                - sku: tea
                  name: "Green tea"
                  price: 4.50
                  currency: EUR
                  stock: {stock}
                  perUserLimit: {perUserLimit}
            """);
        return path;
    }

    static async Task CleanUpAsync(string ns, string sale)
    {
        await using var redis = await ConnectionMultiplexer.ConnectAsync(Infra.Redis);
        await new SaleStore(redis).DeleteAsync(new SaleKeys(ns, sale));
        await using var connection = await new ConnectionFactory { Uri = new Uri(Infra.RabbitMq) }.CreateConnectionAsync();
        await new SaleTopology(ns, sale).DeleteAsync(connection);
    }
}
