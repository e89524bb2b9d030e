using FlashSale.TestSupport;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace FlashSale.ServiceDefaults.Tests;

public sealed class ForwardedHeadersTests
{
    static async Task<string> ClientAddressSeenAsync(bool trust)
    {
        await using var app = await TestApp.StartAsync([.. TestTokens.AuthSettings(), new("Http:TrustForwardedHeaders", trust.ToString())],
            a => a.MapGet("/address", (HttpContext c) => c.Connection.RemoteIpAddress?.ToString() ?? "none"));
        var request = new HttpRequestMessage(HttpMethod.Get, "/address") { Headers = { { "X-Forwarded-For", "203.0.113.7" } } };
        return await (await app.Client().SendAsync(request)).Content.ReadAsStringAsync();
    }

    [Fact]
    public async Task TheClientAddressComesFromXForwardedForOnlyWhenProxiesAreTrusted()
    {
        Assert.Equal("203.0.113.7", await ClientAddressSeenAsync(trust: true));
        Assert.NotEqual("203.0.113.7", await ClientAddressSeenAsync(trust: false));
    }
}
