using System.Text;

namespace FlashSale.Users.Tests;

public sealed class RegistrationTests(UsersFixture fixture) : IClassFixture<UsersFixture>
{
    [Fact]
    public async Task ARegisteredUserLogsInAndSeesThemselvesAtMe()
    {
        var username = UsersFixture.Unique("Alice");
        var user = await fixture.RegisterAsync(username, $"{username}@example.com", "s3cret-enough");
        Assert.Equal(username, user.Username);

        var token = await fixture.LoginAsync(username.ToUpperInvariant(), "s3cret-enough"); // usernames are case-insensitive
        var response = await fixture.SendAsync(HttpMethod.Get, "/api/users/me", token);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var me = await response.Content.ReadFromJsonAsync<MeResponse>();
        Assert.Equal(new MeResponse(user.Id, username, $"{username}@example.com", false, user.CreatedAt), me);
    }

    [Fact]
    public async Task RegistrationAnswers201WithTheUserLocation()
    {
        var username = UsersFixture.Unique();
        var response = await fixture.Client.PostAsJsonAsync("/api/users", new { username, email = $"{username}@example.com", password = "password-1" });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var user = await response.Content.ReadFromJsonAsync<UserResponse>();
        Assert.Equal($"/api/users/{user!.Id}", response.Headers.Location?.ToString());
    }

    [Fact]
    public async Task TheRegistrationAnswerCarriesATokenThatSignsTheNewUserIn()
    {
        var username = UsersFixture.Unique("Carol");
        var before = DateTimeOffset.UtcNow;
        var response = await fixture.Client.PostAsJsonAsync("/api/users", new { username, email = $"{username}@example.com", password = "password-1" });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var registered = (await response.Content.ReadFromJsonAsync<RegisteredResponse>())!;
        Assert.Equal("Bearer", registered.Token.TokenType);
        Assert.InRange(registered.Token.ExpiresAt, before.AddSeconds(registered.Token.ExpiresIn - 5), DateTimeOffset.UtcNow.AddSeconds(registered.Token.ExpiresIn + 5));

        // The token is the new user's, with no more rights than a login gives them.
        var me = await fixture.SendAsync(HttpMethod.Get, "/api/users/me", registered.Token.AccessToken);
        Assert.Equal(HttpStatusCode.OK, me.StatusCode);
        Assert.Equal(new MeResponse(registered.Id, username, $"{username}@example.com", false, registered.CreatedAt), await me.Content.ReadFromJsonAsync<MeResponse>());
        Assert.Equal(HttpStatusCode.Forbidden, (await fixture.SendAsync(HttpMethod.Get, $"/api/users/{registered.Id}", registered.Token.AccessToken)).StatusCode);
    }

    [Fact]
    public async Task ADuplicateUsernameInAnyCaseGivesA409()
    {
        var username = UsersFixture.Unique("bob");
        await fixture.RegisterAsync(username);
        var response = await fixture.Client.PostAsJsonAsync("/api/users",
            new { username = username.ToUpperInvariant(), email = $"other-{username}@example.com", password = "password-1" });
        await response.IsProblemAsync(HttpStatusCode.Conflict, "USERNAME_TAKEN");
    }

    [Fact]
    public async Task ADuplicateEmailGivesA409()
    {
        var username = UsersFixture.Unique();
        await fixture.RegisterAsync(username, $"{username}@example.com");
        var response = await fixture.Client.PostAsJsonAsync("/api/users",
            new { username = username + "x", email = $"{username.ToUpperInvariant()}@EXAMPLE.com", password = "password-1" });
        await response.IsProblemAsync(HttpStatusCode.Conflict, "EMAIL_TAKEN");
    }

    [Fact]
    public async Task TwoHundredConcurrentRegistrationsOfOneUsernameGiveExactlyOne201And199Conflicts()
    {
        var username = UsersFixture.Unique("race");
        var responses = await Task.WhenAll(Enumerable.Range(0, 200).Select(i => fixture.Client.PostAsJsonAsync("/api/users",
            new { username, email = $"{username}-{i}@example.com", password = "password-1" })));

        Assert.Equal(1, responses.Count(r => r.StatusCode == HttpStatusCode.Created));
        Assert.Equal(199, responses.Count(r => r.StatusCode == HttpStatusCode.Conflict));
        foreach (var conflict in responses.Where(r => r.StatusCode == HttpStatusCode.Conflict))
            await conflict.IsProblemAsync(HttpStatusCode.Conflict, "USERNAME_TAKEN");
    }
}

/// <summary>Bad request bodies are refused with a 400 (413 when oversized) ProblemDetails and write nothing.</summary>
public sealed class RegistrationValidationTests(UsersFixture fixture) : IClassFixture<UsersFixture>
{
    async Task<HttpResponseMessage> PostRawAsync(string json) =>
        await fixture.Client.PostAsync("/api/users", new StringContent(json, Encoding.UTF8, "application/json"));

    async Task AssertNothingWrittenAsync(Func<Task> act)
    {
        var (users, wallets, ledger) = (await fixture.CountAsync("users.users"), await fixture.CountAsync("users.wallets"), await fixture.CountAsync("users.wallet_ledger"));
        await act();
        Assert.Equal(users, await fixture.CountAsync("users.users"));
        Assert.Equal(wallets, await fixture.CountAsync("users.wallets"));
        Assert.Equal(ledger, await fixture.CountAsync("users.wallet_ledger"));
    }

    [Theory]
    [InlineData("{\"username\": \"carol\", \"email\": ")]
    [InlineData("{\"username\": \"carol\" \"email\": \"c@example.com\"}")]
    [InlineData("{\"username\": 42, \"email\": \"c@example.com\", \"password\": \"password-1\"}")]
    [InlineData("{\"username\": [\"carol\"], \"email\": \"c@example.com\", \"password\": \"password-1\"}")]
    [InlineData("\"just a string\"")]
    [InlineData("")]
    public async Task MalformedJsonOrWrongTypesGiveA400AndWriteNothing(string json) => await AssertNothingWrittenAsync(async () =>
        await (await PostRawAsync(json)).IsProblemAsync(HttpStatusCode.BadRequest, "MALFORMED_REQUEST"));

    [Theory]
    [InlineData("{}", "username")]
    [InlineData("{\"username\": \"carol\", \"password\": \"password-1\"}", "email")]
    [InlineData("{\"username\": \"carol\", \"email\": \"c@example.com\"}", "password")]
    [InlineData("{\"username\": null, \"email\": \"c@example.com\", \"password\": \"password-1\"}", "username")]
    public async Task MissingFieldsGiveA400NamingThemAndWriteNothing(string json, string field) => await AssertNothingWrittenAsync(async () =>
    {
        var problem = await (await PostRawAsync(json)).IsProblemAsync(HttpStatusCode.BadRequest, "VALIDATION");
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), $"no error for {field}: {problem}");
    });

    public static TheoryData<string, string, string, string> InvalidFields => new()
    {
        { new string('a', 33), "d@example.com", "password-1", "username" },
        { "ab", "d@example.com", "password-1", "username" },
        { "bad name", "d@example.com", "password-1", "username" },
        { "dave", new string('e', 250) + "@example.com", "password-1", "email" },
        { "dave", "not-an-email", "password-1", "email" },
        { "dave", "d@example.com", "short", "password" },
        { "dave", "d@example.com", new string('p', 129), "password" },
    };

    [Theory]
    [MemberData(nameof(InvalidFields))]
    public async Task OverLongOrInvalidStringsGiveA400NamingTheFieldAndWriteNothing(string username, string email, string password, string field) =>
        await AssertNothingWrittenAsync(async () =>
        {
            var response = await fixture.Client.PostAsJsonAsync("/api/users", new { username, email, password });
            var problem = await response.IsProblemAsync(HttpStatusCode.BadRequest, "VALIDATION");
            Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), $"no error for {field}: {problem}");
        });

    [Fact]
    public async Task ABodyOver64KiBIsRefusedAndWritesNothing() => await AssertNothingWrittenAsync(async () =>
    {
        var response = await fixture.Client.PostAsJsonAsync("/api/users",
            new { username = "erin", email = "erin@example.com", password = "password-1", padding = new string('x', 65 * 1024) });
        await response.IsProblemAsync(HttpStatusCode.RequestEntityTooLarge, "REQUEST_TOO_LARGE");
    });

    [Fact]
    public async Task AValidBodyInTheSameFixtureIsWritten()
    {
        // Guards the assertions above: the row counts do move when a registration succeeds.
        var before = await fixture.CountAsync("users.users");
        await fixture.RegisterAsync(UsersFixture.Unique());
        Assert.Equal(before + 1, await fixture.CountAsync("users.users"));
        Assert.Equal(before + 1, await fixture.CountAsync("users.wallet_ledger"));
    }
}
