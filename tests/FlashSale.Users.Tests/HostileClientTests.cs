using System.Diagnostics;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace FlashSale.Users.Tests;

/// <summary>
/// A users service whose client addresses come from X-Forwarded-For (the TestServer's peer is made 127.0.0.1, a trusted proxy),
/// so that one test plays many clients.
/// </summary>
public sealed class AddressedUsersFactory(IDictionary<string, string?> settings) : UsersFactory(settings)
{
    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        Settings["Http:ForwardedHeaders:KnownNetworks"] = "127.0.0.0/8";
        base.ConfigureWebHost(builder);
        builder.ConfigureServices(s => s.AddSingleton<IStartupFilter>(new LoopbackPeer()));
    }

    sealed class LoopbackPeer : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.Use((HttpContext context, RequestDelegate then) =>
            {
                context.Connection.RemoteIpAddress ??= IPAddress.Loopback;
                return then(context);
            });
            next(app);
        };
    }

    public static HttpRequestMessage Post(string path, object body, string clientAddress) =>
        new(HttpMethod.Post, path) { Content = JsonContent.Create(body), Headers = { { "X-Forwarded-For", clientAddress } } };
}

/// <summary>Hostile input is refused before any store is touched: 400 ProblemDetails naming the field, no row written.</summary>
public sealed class HostileInputTests(UsersFixture fixture) : IClassFixture<UsersFixture>
{
    Task<HttpResponseMessage> PostRawAsync(string path, string json, string? token = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        if (token is not null) request.Headers.Authorization = new("Bearer", token);
        return fixture.Client.SendAsync(request);
    }

    async Task<(long, long, long)> RowsAsync() =>
        (await fixture.CountAsync("users.users"), await fixture.CountAsync("users.wallets"), await fixture.CountAsync("users.wallet_ledger"));

    public static TheoryData<string, string> ControlCharacters => new()
    {
        // JSON escapes: a NUL reaches the handler only escaped (raw control characters are not JSON).
        { """{"username": "eve\u0000x", "email": "eve@example.com", "password": "password-1"}""", "username" },
        { """{"username": "evex", "email": "eve\u0000@example.com", "password": "password-1"}""", "email" },
        { """{"username": "evex", "email": "eve@example.com", "password": "password-1\u0000"}""", "password" },
        { """{"username": "evex", "email": "eve@example.com", "password": "password-1\u007f"}""", "password" },
        { """{"username": "evex", "email": "eve@example.com\u001b", "password": "password-1"}""", "email" },
        { """{"username": "evex", "email": "eve@example.com", "password": "password-1\ud800"}""", "password" },
    };

    [Theory]
    [MemberData(nameof(ControlCharacters))]
    public async Task RegistrationWithAControlCharacterOrALoneSurrogateIsRefusedNamingTheFieldAndWritesNothing(string json, string field)
    {
        var before = await RowsAsync();
        var problem = await (await PostRawAsync("/api/users", json)).IsProblemAsync(HttpStatusCode.BadRequest, "VALIDATION");
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), $"no error for {field}: {problem}");
        Assert.Equal(before, await RowsAsync());
    }

    [Theory]
    [InlineData("""{"username": "a\u0000b", "password": "password-1"}""", "username")]
    [InlineData("""{"username": "\u0000", "password": "password-1"}""", "username")]
    [InlineData("""{"username": "somebody", "password": "pass\u0000word"}""", "password")]
    public async Task LoginWithANulIsRefusedNamingTheField(string json, string field)
    {
        var problem = await (await PostRawAsync("/api/users/login", json)).IsProblemAsync(HttpStatusCode.BadRequest, "VALIDATION");
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), $"no error for {field}: {problem}");
    }

    [Fact]
    public async Task AWalletDebitWithAControlCharacterIsRefusedAndDebitsNothing()
    {
        var (_, token) = await fixture.NewUserAsync();
        var before = await RowsAsync();
        var response = await PostRawAsync("/api/wallet/debits", $$"""{"orderId": "{{Guid.NewGuid()}}", "amount": 10, "currency": "EU\u0000"}""", token);
        var problem = await response.IsProblemAsync(HttpStatusCode.BadRequest, "VALIDATION");
        Assert.True(problem.GetProperty("errors").TryGetProperty("currency", out _), problem.ToString());
        var amountAsString = await PostRawAsync("/api/wallet/debits", $$"""{"orderId": "{{Guid.NewGuid()}}", "amount": "10", "currency": "EUR"}""", token);
        await amountAsString.IsProblemAsync(HttpStatusCode.BadRequest, "MALFORMED_REQUEST");
        Assert.Equal(before, await RowsAsync());
    }
}

/// <summary>Registration floods and failed logins by strangers: limited without locking the buyer out.</summary>
public sealed class AbuseLimitTests
{
    static async Task<AddressedUsersFactory> StartAsync(Action<Dictionary<string, string?>> tweak)
    {
        var settings = UsersFactory.DefaultSettings(await Infra.CreateDatabaseAsync("users"), TestTokens.NewSigningKeyPem());
        tweak(settings);
        return new AddressedUsersFactory(settings);
    }

    [Fact]
    public async Task ARegistrationFloodFromOneAddressGets429BeyondItsLimitWhileALoginFromAnotherAddressIsQuick()
    {
        await using var factory = await StartAsync(s =>
        {
            s["Users:RegistrationRateLimit:PerAddress"] = "5";
            s["Users:RegistrationRateLimit:Window"] = "00:05:00";
        });
        var client = factory.CreateClient();
        var buyer = UsersFixture.Unique("buyer");
        Assert.Equal(HttpStatusCode.Created, (await client.SendAsync(AddressedUsersFactory.Post("/api/users",
            new { username = buyer, email = $"{buyer}@example.com", password = "password-1" }, "198.51.100.1"))).StatusCode);

        var flood = await Task.WhenAll(Enumerable.Range(0, 40).Select(i => client.SendAsync(AddressedUsersFactory.Post("/api/users",
            new { username = $"flood{i}x", email = $"flood{i}@example.com", password = "password-1" }, "203.0.113.9"))));
        Assert.Equal(5, flood.Count(r => r.StatusCode == HttpStatusCode.Created));
        foreach (var refused in flood.Where(r => r.StatusCode != HttpStatusCode.Created))
        {
            await refused.IsProblemAsync(HttpStatusCode.TooManyRequests, "TOO_MANY_ATTEMPTS");
            Assert.InRange(int.Parse(Assert.Single(refused.Headers.GetValues("Retry-After"))), 1, 300);
        }

        var watch = Stopwatch.StartNew();
        var login = await client.SendAsync(AddressedUsersFactory.Post("/api/users/login", new { username = buyer, password = "password-1" }, "198.51.100.1"));
        Assert.Equal(HttpStatusCode.OK, login.StatusCode);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(1), $"the login took {watch.Elapsed}");
    }

    [Fact]
    public async Task TwoHundredFailedLoginsForABuyersNameFromOtherAddressesDoNotLockTheBuyerOut()
    {
        // The service's own defaults for the login limits (PerUsernameAndAddress 10, PerUsername 100, PerAddress 300).
        await using var factory = await StartAsync(s =>
        {
            s.Remove("Users:LoginRateLimit:PerUsername");
            s.Remove("Users:LoginRateLimit:PerUsernameAndAddress");
            s.Remove("Users:LoginRateLimit:PerAddress");
        });
        var client = factory.CreateClient();
        const string home = "198.51.100.7";
        var buyer = UsersFixture.Unique("Buyer");
        Assert.Equal(HttpStatusCode.Created, (await client.SendAsync(AddressedUsersFactory.Post("/api/users",
            new { username = buyer, email = $"{buyer}@example.com", password = "password-1" }, home))).StatusCode);

        // Variants of the name count as the name; 20 addresses of 10 guesses each.
        string[] variants = [buyer, buyer.ToUpperInvariant(), $"  {buyer.ToLowerInvariant()} "];
        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 200; i++)
        {
            using var r = await client.SendAsync(AddressedUsersFactory.Post("/api/users/login",
                new { username = variants[i % variants.Length], password = "wrong-password" }, $"203.0.113.{i % 20 + 1}"));
            statuses.Add(r.StatusCode);
        }
        Assert.All(statuses, s => Assert.Contains(s, new[] { HttpStatusCode.Unauthorized, HttpStatusCode.TooManyRequests }));
        // Strangers are slowed down: over the per-username ceiling their guesses are refused unchecked.
        Assert.Contains(HttpStatusCode.TooManyRequests, statuses);
        Assert.InRange(statuses.Count(s => s == HttpStatusCode.Unauthorized), 1, 100);

        var watch = Stopwatch.StartNew();
        var login = await client.SendAsync(AddressedUsersFactory.Post("/api/users/login", new { username = buyer, password = "password-1" }, home));
        Assert.Equal(HttpStatusCode.OK, login.StatusCode);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(1), $"the login took {watch.Elapsed}");

        // Guessing from one address is limited per name there, whatever its spelling.
        const string guesser = "192.0.2.50";
        for (var i = 0; i < 10; i++)
            Assert.Equal(HttpStatusCode.Unauthorized, (await client.SendAsync(AddressedUsersFactory.Post("/api/users/login",
                new { username = i % 2 == 0 ? "nobody-here" : " NOBODY-HERE ", password = "wrong-password" }, guesser))).StatusCode);
        await (await client.SendAsync(AddressedUsersFactory.Post("/api/users/login", new { username = "Nobody-Here", password = "wrong-password" }, guesser)))
            .IsProblemAsync(HttpStatusCode.TooManyRequests, "TOO_MANY_ATTEMPTS");
    }
}
