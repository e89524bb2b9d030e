using Microsoft.Extensions.Configuration;

namespace FlashSale.ServiceDefaults.Tests;

public sealed class ForwardedHeadersTests
{
    /// <summary>The test server's peer is 127.0.0.1 (TestServer) or unset; <paramref name="networks"/> as the operator renders them.</summary>
    static async Task<string> ClientAddressSeenAsync(string? networks)
    {
        var settings = new List<KeyValuePair<string, string?>>(TestTokens.AuthSettings());
        if (networks is not null) settings.Add(new("Http:ForwardedHeaders:KnownNetworks", networks));
        await using var app = await TestApp.StartAsync(settings,
            a => a.MapGet("/address", (HttpContext c) => c.Connection.RemoteIpAddress?.ToString() ?? "none"),
            kestrel: true);
        var request = new HttpRequestMessage(HttpMethod.Get, "/address") { Headers = { { "X-Forwarded-For", "203.0.113.7" } } };
        using var client = new HttpClient { BaseAddress = new Uri(app.Urls.First()) };
        return await (await client.SendAsync(request)).Content.ReadAsStringAsync();
    }

    [Fact]
    public async Task TheClientAddressComesFromXForwardedForOnlyWhenThePeerIsInAKnownProxyNetwork()
    {
        Assert.Equal("203.0.113.7", await ClientAddressSeenAsync("127.0.0.0/8"));
        Assert.Equal("203.0.113.7", await ClientAddressSeenAsync("10.0.0.0/8,127.0.0.1/32"));
        Assert.Equal("127.0.0.1", await ClientAddressSeenAsync("10.0.0.0/8"));
        Assert.Equal("127.0.0.1", await ClientAddressSeenAsync(null));
    }

    [Fact]
    public void ANetworkThatIsNotCidrIsRefusedNamingTheSetting()
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection([new("Http:ForwardedHeaders:KnownNetworks:0", "10.0.0.0/33")]).Build();
        var e = Assert.Throws<InvalidOperationException>(() => FlashSale.ServiceDefaults.Extensions.ForwardedHeadersFrom(configuration));
        Assert.Contains("Http:ForwardedHeaders:KnownNetworks", e.Message);
    }
}
