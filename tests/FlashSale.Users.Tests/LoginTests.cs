using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using FlashSale.Users.Security;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace FlashSale.Users.Tests;

public sealed class LoginTests(UsersFixture fixture) : IClassFixture<UsersFixture>
{
    async Task<HttpResponseMessage> LoginAsync(string username, string password) =>
        await fixture.Client.PostAsJsonAsync("/api/users/login", new { username, password });

    async Task AssertMeRejectsAsync(string token) =>
        await (await fixture.SendAsync(HttpMethod.Get, "/api/users/me", token)).IsProblemAsync(HttpStatusCode.Unauthorized);

    [Fact]
    public async Task AWrongPasswordAndAnUnknownUserGiveTheSame401()
    {
        var (user, _) = await fixture.NewUserAsync();
        var wrongPassword = await LoginAsync(user.Username, "not the password");
        var unknownUser = await LoginAsync(UsersFixture.Unique("nobody"), "not the password");

        var a = await wrongPassword.IsProblemAsync(HttpStatusCode.Unauthorized, "INVALID_CREDENTIALS");
        var b = await unknownUser.IsProblemAsync(HttpStatusCode.Unauthorized, "INVALID_CREDENTIALS");
        static string WithoutTraceId(System.Text.Json.JsonElement problem) => JsonSerializer.Serialize(
            problem.EnumerateObject().Where(p => p.Name != "traceId").ToDictionary(p => p.Name, p => p.Value));
        Assert.Equal(WithoutTraceId(a), WithoutTraceId(b));
        Assert.Equal(wrongPassword.Headers.WwwAuthenticate.ToString(), unknownUser.Headers.WwwAuthenticate.ToString());
    }

    [Fact]
    public async Task TheTokenIsRs256WithTheKeysKidAndTheUsersClaims()
    {
        var (user, token) = await fixture.NewUserAsync();
        var jwt = new JsonWebToken(token);
        Assert.Equal("RS256", jwt.Alg);
        Assert.Equal(SigningKey.FromPem(fixture.SigningKeyPem).KeyId, jwt.Kid);
        Assert.Equal(user.Id.ToString(), jwt.Subject);
        Assert.Equal(user.Username, jwt.GetClaim("name").Value);
        Assert.False(jwt.TryGetClaim("role", out _));
        Assert.Equal("flashsale", jwt.Issuer);
        Assert.Equal(["flashsale"], jwt.Audiences);
        Assert.InRange(jwt.ValidTo - jwt.ValidFrom, TimeSpan.FromMinutes(59), TimeSpan.FromMinutes(61));
    }

    [Fact]
    public async Task TheTokenCarriesTheUsersEmail()
    {
        var username = UsersFixture.Unique();
        await fixture.RegisterAsync(username, $"{username}@Example.com");
        Assert.Equal($"{username}@Example.com", new JsonWebToken(await fixture.LoginAsync(username)).GetClaim("email").Value);
    }

    [Fact]
    public async Task OnlyTheBootstrapAdminGetsTheAdminRole()
    {
        var token = await fixture.LoginAsync("chief", UsersFactory.AdminPassword);
        Assert.Equal("admin", new JsonWebToken(token).GetClaim("role").Value);
        var me = await (await fixture.SendAsync(HttpMethod.Get, "/api/users/me", token)).Content.ReadFromJsonAsync<MeResponse>();
        Assert.True(me!.Admin);

        // The name is the bootstrap's: nobody can register it, in any case.
        var taken = await fixture.Client.PostAsJsonAsync("/api/users", new { username = "CHIEF", email = $"c{Guid.NewGuid():N}@example.com", password = "password-12" });
        await taken.IsProblemAsync(HttpStatusCode.Conflict, "USERNAME_TAKEN");
        // Names that look like an admin's ("root", "admin") are ordinary buyers.
        foreach (var name in new[] { "root" + Guid.NewGuid().ToString("N")[..4], "admin" + Guid.NewGuid().ToString("N")[..4] })
        {
            await fixture.RegisterAsync(name);
            var buyer = new JsonWebToken(await fixture.LoginAsync(name));
            Assert.False(buyer.TryGetClaim("role", out _));
        }
    }

    [Fact]
    public async Task TheBootstrapTakesOverAnExistingAccountAndRevokesEveryOtherAdmin()
    {
        // A service started before with another admin, and someone who registered the next admin's name first.
        var db = await FlashSale.TestSupport.Infra.CreateDatabaseAsync("users");
        var settings = UsersFactory.DefaultSettings(db, fixture.SigningKeyPem);
        await using (var first = new UsersFactory(settings))
        {
            using var client = first.CreateClient();
            await UsersClient.RegisterAsync(client, "squatter", "squatter@example.com", "squatter-password");
            Assert.Equal("admin", new JsonWebToken(await UsersClient.LoginAsync(client, "chief", UsersFactory.AdminPassword)).GetClaim("role").Value);
        }

        var next = new Dictionary<string, string?>(settings) { ["Users:Admin:Username"] = "squatter", ["Users:Admin:Password"] = "the-secret-password" };
        await using (var second = new UsersFactory(next))
        {
            using var client = second.CreateClient();
            await (await client.PostAsJsonAsync("/api/users/login", new { username = "squatter", password = "squatter-password" }))
                .IsProblemAsync(HttpStatusCode.Unauthorized, "INVALID_CREDENTIALS");
            Assert.Equal("admin", new JsonWebToken(await UsersClient.LoginAsync(client, "squatter", "the-secret-password")).GetClaim("role").Value);
            Assert.False(new JsonWebToken(await UsersClient.LoginAsync(client, "chief", UsersFactory.AdminPassword)).TryGetClaim("role", out _));
        }

        // Without Users:Admin there is no admin at all.
        var none = new Dictionary<string, string?>(settings) { ["Users:Admin:Username"] = null, ["Users:Admin:Password"] = null };
        await using (var third = new UsersFactory(none))
        {
            using var client = third.CreateClient();
            Assert.False(new JsonWebToken(await UsersClient.LoginAsync(client, "squatter", "the-secret-password")).TryGetClaim("role", out _));
        }
    }

    [Fact]
    public async Task AnExpiredTokenSignedByTheServiceKeyIsRejected()
    {
        var (user, _) = await fixture.NewUserAsync();
        var expired = SigningKey.FromPem(fixture.SigningKeyPem)
            .CreateToken(user.Id, user.Username, null, false, "flashsale", "flashsale", DateTime.UtcNow.AddHours(-2), TimeSpan.FromHours(1));
        await AssertMeRejectsAsync(expired);
        var fresh = SigningKey.FromPem(fixture.SigningKeyPem)
            .CreateToken(user.Id, user.Username, null, false, "flashsale", "flashsale", DateTime.UtcNow, TimeSpan.FromHours(1));
        Assert.Equal(HttpStatusCode.OK, (await fixture.SendAsync(HttpMethod.Get, "/api/users/me", fresh)).StatusCode);
    }

    [Fact]
    public async Task ATamperedTokenIsRejected()
    {
        var (_, token) = await fixture.NewUserAsync();
        var (other, _) = await fixture.NewUserAsync();
        var parts = token.Split('.');
        var payload = JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(Base64UrlEncoder.Decode(parts[1]))!;
        var tampered = payload.ToDictionary(p => p.Key, p => (object)p.Value);
        tampered["sub"] = other.Id.ToString();
        parts[1] = Base64UrlEncoder.Encode(JsonSerializer.Serialize(tampered));
        await AssertMeRejectsAsync(string.Join('.', parts));
    }

    [Fact]
    public async Task ATokenSignedByAnotherKeyIsRejectedEvenWithTheServicesKid()
    {
        var (user, _) = await fixture.NewUserAsync();
        using var rsa = RSA.Create(2048);
        var forged = new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = "flashsale", Audience = "flashsale", Expires = DateTime.UtcNow.AddHours(1),
            Claims = new Dictionary<string, object> { ["sub"] = user.Id.ToString(), ["name"] = user.Username, ["role"] = "admin" },
            SigningCredentials = new SigningCredentials(new RsaSecurityKey(rsa) { KeyId = SigningKey.FromPem(fixture.SigningKeyPem).KeyId }, SecurityAlgorithms.RsaSha256),
        });
        await AssertMeRejectsAsync(forged);
    }

    [Fact]
    public async Task AnAlgNoneTokenIsRejected()
    {
        var (user, token) = await fixture.NewUserAsync();
        var payload = token.Split('.')[1];
        var header = Base64UrlEncoder.Encode("{\"alg\":\"none\",\"typ\":\"JWT\"}");
        await AssertMeRejectsAsync($"{header}.{payload}.");
        await AssertMeRejectsAsync($"{header}.{payload}");
        Assert.Equal(HttpStatusCode.OK, (await fixture.SendAsync(HttpMethod.Get, "/api/users/me", token)).StatusCode);
    }

    [Fact]
    public async Task AnHs256TokenKeyedWithThePublicJwksIsRejected()
    {
        var (_, token) = await fixture.NewUserAsync();
        var jwks = await fixture.Client.GetStringAsync("/.well-known/jwks.json");
        var header = Base64UrlEncoder.Encode("{\"alg\":\"HS256\",\"typ\":\"JWT\"}");
        var payload = token.Split('.')[1];
        var signature = Base64UrlEncoder.Encode(HMACSHA256.HashData(Encoding.UTF8.GetBytes(jwks), Encoding.ASCII.GetBytes(header + "." + payload)));
        await AssertMeRejectsAsync($"{header}.{payload}.{signature}");
    }

    [Fact]
    public async Task MeWithoutATokenIsA401Problem() =>
        await (await fixture.SendAsync(HttpMethod.Get, "/api/users/me", null)).IsProblemAsync(HttpStatusCode.Unauthorized);

    [Fact]
    public async Task TheJwksEndpointServesThePublicKeyOnly()
    {
        var response = await fixture.Client.GetAsync("/.well-known/jwks.json");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var key = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("keys")[0];
        Assert.Equal("RSA", key.GetProperty("kty").GetString());
        Assert.Equal("RS256", key.GetProperty("alg").GetString());
        Assert.Equal(SigningKey.FromPem(fixture.SigningKeyPem).KeyId, key.GetProperty("kid").GetString());
        Assert.False(key.TryGetProperty("d", out _));
        Assert.False(key.TryGetProperty("p", out _));
    }

    [Fact]
    public async Task OverLongLoginFieldsGiveA400()
    {
        var response = await LoginAsync(new string('u', 65), new string('p', 129));
        var problem = await response.IsProblemAsync(HttpStatusCode.BadRequest, "VALIDATION");
        Assert.True(problem.GetProperty("errors").TryGetProperty("username", out _));
        Assert.True(problem.GetProperty("errors").TryGetProperty("password", out _));
    }
}
