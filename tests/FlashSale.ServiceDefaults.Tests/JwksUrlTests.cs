using System.Net.Http.Headers;
using FlashSale.LoadTest;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace FlashSale.ServiceDefaults.Tests;

/// <summary>A real HTTP issuer (Kestrel on 127.0.0.1, port 0) serving a JWKS that can rotate, counting its fetches.</summary>
sealed class JwksServer : IAsyncDisposable
{
    readonly WebApplication _app;
    public volatile string Jwks;
    int _fetches;

    JwksServer(WebApplication app, string jwks) { _app = app; Jwks = jwks; }

    public int Fetches => Volatile.Read(ref _fetches);
    public string Url => _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First() + "/.well-known/jwks.json";

    public static async Task<JwksServer> StartAsync(string jwks)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var server = new JwksServer(app, jwks);
        app.MapGet("/.well-known/jwks.json", () =>
        {
            Interlocked.Increment(ref server._fetches);
            return TypedResults.Text(server.Jwks, "application/json");
        });
        await app.StartAsync();
        return server;
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}

public sealed class JwksUrlTests
{
    static async Task<HttpStatusCode> CallAsync(WebApplication app, string token)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, "/me") { Headers = { Authorization = new AuthenticationHeaderValue("Bearer", token) } };
        return (await app.Client().SendAsync(request)).StatusCode;
    }

    static Task<WebApplication> StartServiceAsync(string jwksUrl, string minRefresh) => TestApp.StartAsync(
        [new("Auth:JwksUrl", jwksUrl), new("Auth:JwksMinRefreshInterval", minRefresh)], AuthenticationTests.MapMe);

    [Fact]
    public async Task AServiceTrustsTokensSignedByAKeyFromTheJwksUrlAndCachesTheKeys()
    {
        var a = new TokenMinter();
        await using var issuer = await JwksServer.StartAsync(a.Jwks);
        await using var service = await StartServiceAsync(issuer.Url, "00:00:00");

        for (var i = 0; i < 5; i++) Assert.Equal(HttpStatusCode.OK, await CallAsync(service, a.Mint()));
        Assert.Equal(1, issuer.Fetches);
    }

    [Fact]
    public async Task AnUnknownKidMakesTheServiceFetchTheRotatedJwksAndAcceptTheSameRequest()
    {
        TokenMinter a = new(), b = new();
        await using var issuer = await JwksServer.StartAsync(a.Jwks);
        await using var service = await StartServiceAsync(issuer.Url, "00:00:00");
        Assert.Equal(HttpStatusCode.OK, await CallAsync(service, a.Mint()));

        issuer.Jwks = TokenMinter.JwksOf(a, b);
        Assert.Equal(HttpStatusCode.OK, await CallAsync(service, b.Mint()));
        Assert.Equal(2, issuer.Fetches);
    }

    [Fact]
    public async Task UnknownKidsDoNotMakeTheServiceFetchMoreThanOncePerMinimumInterval()
    {
        var a = new TokenMinter();
        await using var issuer = await JwksServer.StartAsync(a.Jwks);
        await using var service = await StartServiceAsync(issuer.Url, "01:00:00");
        Assert.Equal(HttpStatusCode.OK, await CallAsync(service, a.Mint()));

        for (var i = 0; i < 20; i++) Assert.Equal(HttpStatusCode.Unauthorized, await CallAsync(service, new TokenMinter().Mint()));
        Assert.Equal(1, issuer.Fetches);
        Assert.Equal(HttpStatusCode.OK, await CallAsync(service, a.Mint()));
    }

    [Fact]
    public async Task AnUnreachableJwksUrlGivesA401NotAnError()
    {
        await using var service = await StartServiceAsync("http://127.0.0.1:9/.well-known/jwks.json", "00:00:00");
        Assert.Equal(HttpStatusCode.Unauthorized, await CallAsync(service, new TokenMinter().Mint()));
    }
}
