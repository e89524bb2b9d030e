using System.Net.Http.Headers;
using System.Security.Claims;
using System.Security.Cryptography;
using FlashSale.ServiceDefaults;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace FlashSale.Users.Tests;

/// <summary>
/// Another service trusts users' tokens through the JWKS endpoint only: the users service runs on real Kestrel (127.0.0.1, port 0)
/// and a second app built with AddServiceDefaults fetches its keys over HTTP from Auth:JwksUrl.
/// </summary>
public sealed class JwksTests : IAsyncLifetime
{
    // A verification key (here the previous key of a rotation): no longer signs, still published and trusted.
    readonly string _retiredPem = TestTokens.NewSigningKeyPem();
    UsersFactory _users = null!;
    HttpClient _usersClient = null!;
    WebApplication _other = null!;
    HttpClient _otherClient = null!;

    public sealed record WhoAmI(Guid Id, string? Name, bool Admin);

    public async Task InitializeAsync()
    {
        var db = await Infra.CreateDatabaseAsync("users");
        var settings = UsersFactory.DefaultSettings(db, TestTokens.NewSigningKeyPem());
        settings["Auth:VerificationKeyPems:0"] = _retiredPem;
        _users = new UsersFactory(settings);
        _users.UseKestrel(0);
        _users.StartServer();
        var address = _users.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        Assert.StartsWith("http://127.0.0.1:", address);
        _usersClient = new HttpClient { BaseAddress = new Uri(address) };

        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = "Testing" });
        builder.WebHost.UseTestServer();
        builder.Configuration.AddInMemoryCollection([new("Auth:JwksUrl", address + "/.well-known/jwks.json"), new("Logging:LogLevel:Default", "Warning")]);
        builder.AddServiceDefaults();
        _other = builder.Build();
        _other.MapDefaultEndpoints();
        _other.MapGet("/whoami", (ClaimsPrincipal user) => new WhoAmI(user.GetUserId(), user.Identity?.Name, user.IsInRole("admin"))).RequireAuthorization();
        await _other.StartAsync();
        _otherClient = _other.GetTestServer().CreateClient();
    }

    public async Task DisposeAsync()
    {
        await _other.DisposeAsync();
        await _users.DisposeAsync();
    }

    async Task<HttpResponseMessage> WhoAmIAsync(string token)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, "/whoami") { Headers = { Authorization = new AuthenticationHeaderValue("Bearer", token) } };
        return await _otherClient.SendAsync(request);
    }

    [Fact]
    public async Task AnotherServiceAcceptsATokenFromLoginThroughTheJwksEndpoint()
    {
        var username = "u" + Guid.NewGuid().ToString("N")[..10];
        var registered = await _usersClient.PostAsJsonAsync("/api/users", new { username, email = $"{username}@example.com", password = "password-1" });
        Assert.Equal(HttpStatusCode.Created, registered.StatusCode);
        var user = await registered.Content.ReadFromJsonAsync<RegisteredResponse>();
        var login = await _usersClient.PostAsJsonAsync("/api/users/login", new { username, password = "password-1" });
        var token = (await login.Content.ReadFromJsonAsync<TokenResponse>())!.AccessToken;

        // The token of the login and the one the registration answered with alike.
        foreach (var t in new[] { token, user!.Token.AccessToken })
        {
            var response = await WhoAmIAsync(t);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(new WhoAmI(user.Id, username, false), await response.Content.ReadFromJsonAsync<WhoAmI>());
        }

        // The bootstrap admin's role reaches the other service too.
        var admin = await _usersClient.PostAsJsonAsync("/api/users/login", new { username = UsersFactory.AdminUsername, password = UsersFactory.AdminPassword });
        var adminToken = (await admin.Content.ReadFromJsonAsync<TokenResponse>())!.AccessToken;
        Assert.True((await (await WhoAmIAsync(adminToken)).Content.ReadFromJsonAsync<WhoAmI>())!.Admin);
    }

    [Fact]
    public async Task TokensOfARetiredKeyStayValidWhileNewOnesAreSignedWithTheCurrentKey()
    {
        var username = "u" + Guid.NewGuid().ToString("N")[..10];
        var registered = await _usersClient.PostAsJsonAsync("/api/users", new { username, email = username + "@example.com", password = "password-1" });
        var user = (await registered.Content.ReadFromJsonAsync<UserResponse>())!;
        var retired = Security.SigningKey.FromPem(_retiredPem);
        var old = retired.CreateToken(user.Id, username, null, false, "flashsale", "flashsale", DateTime.UtcNow, TimeSpan.FromHours(1));

        // Published next to the signing key, and trusted by another service (through the JWKS) and by the users service itself.
        var jwks = System.Text.Json.JsonDocument.Parse(await _usersClient.GetStringAsync("/.well-known/jwks.json")).RootElement.GetProperty("keys");
        var current = _users.Services.GetRequiredService<Security.SigningKey>();
        Assert.Equal([current.KeyId, retired.KeyId], jwks.EnumerateArray().Select(k => k.GetProperty("kid").GetString()));
        Assert.Equal(HttpStatusCode.OK, (await WhoAmIAsync(old)).StatusCode);
        using (var me = new HttpRequestMessage(HttpMethod.Get, "/api/users/me") { Headers = { Authorization = new AuthenticationHeaderValue("Bearer", old) } })
            Assert.Equal(HttpStatusCode.OK, (await _usersClient.SendAsync(me)).StatusCode);

        // A login now gets a token of the current key, never of the retired one.
        var login = await _usersClient.PostAsJsonAsync("/api/users/login", new { username, password = "password-1" });
        var token = (await login.Content.ReadFromJsonAsync<TokenResponse>())!.AccessToken;
        Assert.Equal(current.KeyId, new Microsoft.IdentityModel.JsonWebTokens.JsonWebToken(token).Kid);
        Assert.NotEqual(current.KeyId, retired.KeyId);
    }

    [Fact]
    public async Task AnotherServiceRejectsATokenSignedByAKeyTheUsersServiceDoesNotPublish()
    {
        var stranger = Security.SigningKey.FromPem(TestTokens.NewSigningKeyPem())
            .CreateToken(Guid.NewGuid(), "mallory", null, true, "flashsale", "flashsale", DateTime.UtcNow, TimeSpan.FromHours(1));
        Assert.Equal(HttpStatusCode.Unauthorized, (await WhoAmIAsync(stranger)).StatusCode);
    }
}
