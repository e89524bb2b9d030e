using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Claims;
using System.Text.Json;
using FlashSale.LoadTest;
using Microsoft.Extensions.Options;

namespace FlashSale.ServiceDefaults.Tests;

public sealed class AuthenticationTests : IAsyncLifetime
{
    readonly TokenMinter _trusted = new();
    WebApplication _app = null!;
    HttpClient _client = null!;

    public sealed record Me(Guid Id, string? Name, bool Admin);

    internal static void MapMe(WebApplication app)
    {
        app.MapGet("/me", (ClaimsPrincipal user) => new Me(user.GetUserId(), user.Identity?.Name, user.IsInRole("admin"))).RequireAuthorization();
        app.MapGet("/admin", () => "ok").RequireAuthorization(p => p.RequireRole("admin"));
    }

    public async Task InitializeAsync()
    {
        _app = await TestApp.StartAsync(_trusted.AuthSettings(), MapMe);
        _client = _app.Client();
    }

    public async Task DisposeAsync() => await _app.DisposeAsync();

    Task<HttpResponseMessage> GetAsync(string path, string? token)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (token is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return _client.SendAsync(request);
    }

    async Task AssertUnauthorizedAsync(string token, string description = "The token is not valid")
    {
        var response = await GetAsync("/me", token);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        // RFC 6750: the challenge says the token was refused and which check failed, nothing of the token itself.
        Assert.Equal($"Bearer error=\"invalid_token\", error_description=\"{description}\"", response.Headers.WwwAuthenticate.ToString());
    }

    [Fact]
    public async Task AValidTokenGivesTheUserIdNameAndRoleFromItsClaims()
    {
        var id = Guid.NewGuid();
        var response = await GetAsync("/me", _trusted.Mint(id, "alice", admin: true));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(new Me(id, "alice", true), await response.Content.ReadFromJsonAsync<Me>());
    }

    [Fact]
    public async Task TokensMintedByTestSupportValidateWithItsAuthSettings()
    {
        await using var app = await TestApp.StartAsync(TestTokens.AuthSettings(), MapMe);
        var id = Guid.NewGuid();
        var request = new HttpRequestMessage(HttpMethod.Get, "/me") { Headers = { Authorization = new("Bearer", TestTokens.Mint(id, "bob")) } };
        var response = await app.Client().SendAsync(request);
        Assert.Equal(new Me(id, "bob", false), await response.Content.ReadFromJsonAsync<Me>());
    }

    [Fact]
    public async Task NoTokenGivesA401Problem()
    {
        var response = await GetAsync("/me", null);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("Bearer", response.Headers.WwwAuthenticate.ToString()); // no token: no error (RFC 6750 section 3.1)
    }

    [Fact]
    public async Task ANonAdminGetsA403ProblemOnAnAdminEndpoint()
    {
        var response = await GetAsync("/admin", _trusted.Mint());
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(HttpStatusCode.OK, (await GetAsync("/admin", _trusted.Mint(admin: true))).StatusCode);
    }

    [Fact]
    public async Task ATokenExpiredLongerAgoThanTheClockSkewIsRejected() =>
        await AssertUnauthorizedAsync(_trusted.Mint(notBefore: DateTime.UtcNow.AddSeconds(-100), lifetime: TimeSpan.FromSeconds(60)), "The token has expired");

    [Fact]
    public async Task ATokenNotYetValidIsRejected() =>
        await AssertUnauthorizedAsync(_trusted.Mint(notBefore: DateTime.UtcNow.AddMinutes(5)), "The token is not valid yet");

    [Fact]
    public async Task ATokenFromAnotherIssuerIsRejected() => await AssertUnauthorizedAsync(_trusted.Mint(issuer: "evil"), "The token is from another issuer");

    [Fact]
    public async Task ATokenForAnotherAudienceIsRejected() => await AssertUnauthorizedAsync(_trusted.Mint(audience: "elsewhere"), "The token is for another audience");

    [Fact]
    public async Task ATokenSignedByAnUntrustedKeyWithATrustedKidIsRejected() =>
        await AssertUnauthorizedAsync(new TokenMinter(_trusted.KeyId).Mint(), "The token's signature is invalid");

    [Fact]
    public async Task ATamperedTokenIsRejected()
    {
        var parts = _trusted.Mint(admin: false).Split('.');
        var payload = JsonSerializer.Deserialize<Dictionary<string, object>>(Microsoft.IdentityModel.Tokens.Base64UrlEncoder.Decode(parts[1]))!;
        payload["role"] = "admin";
        parts[1] = Microsoft.IdentityModel.Tokens.Base64UrlEncoder.Encode(JsonSerializer.Serialize(payload));
        await AssertUnauthorizedAsync(string.Join('.', parts), "The token's signature is invalid");
    }

    static object Payload() => new
    {
        sub = Guid.NewGuid().ToString(), name = "mallory", role = "admin", iss = "flashsale", aud = "flashsale",
        iat = DateTimeOffset.UtcNow.ToUnixTimeSeconds(), nbf = DateTimeOffset.UtcNow.ToUnixTimeSeconds(), exp = DateTimeOffset.UtcNow.AddHours(1).ToUnixTimeSeconds(),
    };

    [Fact]
    public async Task AnUnsignedAlgNoneTokenIsRejected()
    {
        await AssertUnauthorizedAsync(Forged.Token(new { alg = "none", typ = "JWT" }, Payload(), null), "The token's signature is invalid");
        await AssertUnauthorizedAsync(Forged.Token(new { alg = "none", typ = "JWT", kid = _trusted.KeyId }, Payload(), null), "The token's signature is invalid");
    }

    [Fact]
    public async Task AnHs256TokenKeyedWithThePublicKeyIsRejected()
    {
        await AssertUnauthorizedAsync(Forged.Token(new { alg = "HS256", typ = "JWT", kid = _trusted.KeyId }, Payload(), _trusted.PublicModulus), "The token's signature is invalid");
        await AssertUnauthorizedAsync(Forged.Token(new { alg = "HS256", typ = "JWT", kid = _trusted.KeyId }, Payload(), _trusted.PublicKeyPem), "The token's signature is invalid");
    }

    [Fact]
    public async Task ATokenWhoseSubjectIsNotAUserIdIsRejected() => await AssertUnauthorizedAsync(_trusted.Mint(subject: "admin"), "The token's subject is not a user id");

    [Fact]
    public async Task GarbageInTheAuthorizationHeaderIsA401NotAnError() => await AssertUnauthorizedAsync("not.a.token");

    [Fact]
    public async Task AServiceWithoutSigningKeysRefusesToStartAndNamesTheSettings()
    {
        var e = await Assert.ThrowsAsync<OptionsValidationException>(() =>
            TestApp.StartAsync([new("Auth:Issuer", "flashsale")], MapMe));
        Assert.Contains("Auth:Jwks", e.Message);
        Assert.Contains("Auth:JwksUrl", e.Message);
    }
}
