namespace FlashSale.Users.Tests;

public sealed class LoginRateLimitTests
{
    static async Task<UsersFactory> StartAsync(int perUsernameAndAddress, int perAddress) =>
        new(Settings(await Infra.CreateDatabaseAsync("users"), TestTokens.NewSigningKeyPem(), perUsernameAndAddress, perAddress));

    static Dictionary<string, string?> Settings(string database, string signingKeyPem, int perUsernameAndAddress, int perAddress, string? redis = null)
    {
        var settings = UsersFactory.DefaultSettings(database, signingKeyPem);
        settings["Users:LoginRateLimit:PerUsernameAndAddress"] = perUsernameAndAddress.ToString();
        settings["Users:LoginRateLimit:PerAddress"] = perAddress.ToString();
        settings["Users:LoginRateLimit:Window"] = "00:05:00";
        if (redis is not null)
        {
            settings["ConnectionStrings:Redis"] = redis;
            settings["Users:LoginRateLimit:KeyPrefix"] = $"fs:test-{Guid.NewGuid():N}:login:"; // this test's counts only
        }
        return settings;
    }

    static Task<HttpResponseMessage> LoginAsync(HttpClient client, string username, string password = "wrong-password") =>
        client.PostAsJsonAsync("/api/users/login", new { username, password });

    static async Task AssertThrottledAsync(HttpResponseMessage response)
    {
        await response.IsProblemAsync(HttpStatusCode.TooManyRequests, "TOO_MANY_ATTEMPTS");
        var retryAfter = int.Parse(Assert.Single(response.Headers.GetValues("Retry-After")));
        Assert.InRange(retryAfter, 1, 300);
    }

    [Fact]
    public async Task FailuresOverThePerUsernameAndAddressLimitGet429WithRetryAfterEvenWithTheRightPassword()
    {
        await using var factory = await StartAsync(perUsernameAndAddress: 3, perAddress: 1000);
        var client = factory.CreateClient();
        Assert.Equal(HttpStatusCode.Created, (await client.PostAsJsonAsync("/api/users", new { username = "target", email = "t@example.com", password = "password-1" })).StatusCode);

        for (var i = 0; i < 3; i++) Assert.Equal(HttpStatusCode.Unauthorized, (await LoginAsync(client, i % 2 == 0 ? "target" : "TARGET")).StatusCode);
        await AssertThrottledAsync(await LoginAsync(client, "target", "password-1"));
        Assert.Equal(HttpStatusCode.Unauthorized, (await LoginAsync(client, "someone-else")).StatusCode); // other usernames are not affected
    }

    [Fact]
    public async Task AttemptsOverThePerAddressLimitGet429WhateverTheUsername()
    {
        await using var factory = await StartAsync(perUsernameAndAddress: 1000, perAddress: 5);
        var client = factory.CreateClient();
        for (var i = 0; i < 5; i++) Assert.Equal(HttpStatusCode.Unauthorized, (await LoginAsync(client, $"user{i}")).StatusCode);
        await AssertThrottledAsync(await LoginAsync(client, "user-new"));
    }

    [Fact]
    public async Task ReplicasSharingRedisShareOneBudgetPerUsernameAndAddress()
    {
        await Infra.RequireAsync(postgres: true, redis: true, rabbitMq: false);
        var settings = Settings(await Infra.CreateDatabaseAsync("users"), TestTokens.NewSigningKeyPem(), perUsernameAndAddress: 3, perAddress: 1000, redis: Infra.Redis);
        await using var a = new UsersFactory(settings);
        await using var b = new UsersFactory(new Dictionary<string, string?>(settings));
        HttpClient[] replicas = [a.CreateClient(), b.CreateClient()];
        Assert.Equal(HttpStatusCode.Created, (await replicas[0].PostAsJsonAsync("/api/users", new { username = "target", email = "t@example.com", password = "password-1" })).StatusCode);

        // Three wrong guesses from one address spread over both replicas spend its budget; the fourth is refused by either, even with the right
        // password. Counted per replica, each would have allowed three.
        for (var i = 0; i < 3; i++) Assert.Equal(HttpStatusCode.Unauthorized, (await LoginAsync(replicas[i % 2], "target")).StatusCode);
        await AssertThrottledAsync(await LoginAsync(replicas[1], "target", "password-1"));
        await AssertThrottledAsync(await LoginAsync(replicas[0], "TARGET", "password-1"));
        Assert.Equal(HttpStatusCode.Unauthorized, (await LoginAsync(replicas[1], "someone-else")).StatusCode); // another username's budget is its own
    }

    [Fact]
    public async Task WithRedisUnreachableLoginsAreStillLimitedInTheReplicasMemory()
    {
        // Nothing listens on port 1: the throttle counts locally at once instead of refusing logins or waiting for Redis.
        await using var factory = new UsersFactory(Settings(await Infra.CreateDatabaseAsync("users"), TestTokens.NewSigningKeyPem(),
            perUsernameAndAddress: 3, perAddress: 1000, redis: "127.0.0.1:1,connectTimeout=200"));
        var client = factory.CreateClient();
        Assert.Equal(HttpStatusCode.Created, (await client.PostAsJsonAsync("/api/users", new { username = "target", email = "t@example.com", password = "password-1" })).StatusCode);

        var started = DateTime.UtcNow;
        Assert.Equal(HttpStatusCode.OK, (await LoginAsync(client, "target", "password-1")).StatusCode);
        for (var i = 0; i < 3; i++) Assert.Equal(HttpStatusCode.Unauthorized, (await LoginAsync(client, "target")).StatusCode);
        await AssertThrottledAsync(await LoginAsync(client, "target", "password-1"));
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(4), "logins waited for the unreachable Redis");
        Assert.Contains("users_login_throttle_fallbacks_total 5", (await client.GetStringAsync("/metrics")).Split('\n'));
    }
}
