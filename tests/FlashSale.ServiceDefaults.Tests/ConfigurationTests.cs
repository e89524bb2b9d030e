using Microsoft.Extensions.Configuration;

namespace FlashSale.ServiceDefaults.Tests;

public sealed class ConfigurationTests
{
    static IConfiguration Build(params (string Key, string Value)[] values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>(v.Key, v.Value))).Build();

    [Fact]
    public void GetRequiredValueReturnsAPresentValue() =>
        Assert.Equal("Host=db", Build(("ConnectionStrings:Postgres", "Host=db")).GetRequiredValue("ConnectionStrings:Postgres"));

    [Fact]
    public void GetRequiredValueNamesTheMissingKey()
    {
        var e = Assert.Throws<InvalidOperationException>(() => Build().GetRequiredValue("ConnectionStrings:Postgres"));
        Assert.Equal("Configuration value 'ConnectionStrings:Postgres' is missing", e.Message);
    }

    [Fact]
    public void GetRequiredValueOnASectionNamesTheFullPath()
    {
        var e = Assert.Throws<InvalidOperationException>(() => Build(("Auth:Issuer", "x")).GetSection("Auth").GetRequiredValue("Audience"));
        Assert.Equal("Configuration value 'Auth:Audience' is missing", e.Message);
    }

    [Fact]
    public void GetRequiredValueTreatsAnEmptyValueAsMissing() =>
        Assert.Throws<InvalidOperationException>(() => Build(("Auth:Issuer", " ")).GetRequiredValue("Auth:Issuer"));
}
