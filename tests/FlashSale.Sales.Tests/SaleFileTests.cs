namespace FlashSale.Sales.Tests;

public class SaleFileTests
{
    [Fact]
    public void TheExampleSaleFileParsesWithItsProductsScheduleAndTimeout()
    {
        var sale = SaleFile.Load(Path.Combine(Infra.RepoRoot, "examples", "flashsale.yaml"));
        Assert.Equal("default/black-friday", sale.Id);
        Assert.Equal(TimeSpan.FromMinutes(15), sale.PaymentTimeout);
        Assert.Equal(new DateTimeOffset(2026, 11, 27, 9, 0, 0, TimeSpan.Zero), sale.StartsAt);
        Assert.Equal(["console-x", "headset-pro"], sale.Products.Select(p => p.Sku));
        Assert.Equal(1000, sale.Products.Sum(p => p.Stock));
        Assert.Equal(2, sale.Find("headset-pro")!.PerUserLimit);
    }

    [Fact]
    public void AnInvalidSaleNamesEveryBadField()
    {
        var yaml = """
            apiVersion: flashsale.dev/v1alpha1
            kind: FlashSale
            metadata: { name: bad }
            spec:
              schedule: { startsAt: "2026-11-27T10:00:00Z", endsAt: "2026-11-27T09:00:00Z" }
              products:
                - { sku: a, price: 1, currency: EUR, stock: -1, perUserLimit: 0 }
                - { sku: a, price: 1, currency: EUR, stock: 5, perUserLimit: 1 }
            """;
        var e = Assert.Throws<SaleFileException>(() => SaleFile.Parse(yaml));
        Assert.Contains("spec.schedule.endsAt must be after spec.schedule.startsAt", e.Errors);
        Assert.Contains("spec.products[0].stock must be >= 0", e.Errors);
        Assert.Contains("spec.products[0].perUserLimit must be >= 1", e.Errors);
        Assert.Contains(e.Errors, m => m.StartsWith("spec.products[1].sku 'a' is duplicated"));
    }

    [Fact]
    public void ASaleWrittenToYamlReadsBackEqual()
    {
        var sale = new SaleDefinition("shop", "s1", DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddHours(1), TimeSpan.FromSeconds(2),
            [new ProductDefinition("p1", "Product one", 12.5m, "EUR", 100, 2)]);
        var back = SaleFile.Parse(SaleFile.ToYaml(sale));
        Assert.Equal(sale.Products, back.Products);
        Assert.Equal(sale.PaymentTimeout, back.PaymentTimeout);
        Assert.Equal(sale.StartsAt.ToUnixTimeMilliseconds(), back.StartsAt.ToUnixTimeMilliseconds());
    }

    [Theory]
    [InlineData("15m", 900_000)]
    [InlineData("1h30m", 5_400_000)]
    [InlineData("2s", 2_000)]
    [InlineData("500ms", 500)]
    [InlineData("PT15M", 900_000)]
    public void DurationsParseKubernetesAndIsoForms(string text, long ms) => Assert.Equal(ms, (long)Durations.Parse(text).TotalMilliseconds);

    [Theory]
    [InlineData("15")]
    [InlineData("abc")]
    [InlineData("5x")]
    public void DurationsRejectGarbage(string text) => Assert.False(Durations.TryParse(text, out _));
}
