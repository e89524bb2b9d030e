using System.Net;
using System.Net.Http.Json;
using FlashSale.TestSupport;

namespace FlashSale.Users.Tests;

public sealed class LoginRateLimitTests
{
    static async Task<UsersFactory> StartAsync(int perUsername, int perAddress)
    {
        var settings = UsersFactory.DefaultSettings(await Infra.CreateDatabaseAsync("users"), UsersFactory.NewSigningKeyPem());
        settings["Users:LoginRateLimit:PerUsername"] = perUsername.ToString();
        settings["Users:LoginRateLimit:PerAddress"] = perAddress.ToString();
        settings["Users:LoginRateLimit:Window"] = "00:05:00";
        return new UsersFactory(settings);
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
    public async Task AttemptsOverThePerUsernameLimitGet429WithRetryAfterEvenWithTheRightPassword()
    {
        await using var factory = await StartAsync(perUsername: 3, perAddress: 1000);
        var client = factory.CreateClient();
        Assert.Equal(HttpStatusCode.Created, (await client.PostAsJsonAsync("/api/users", new { username = "target", email = "t@example.com", password = "password-1" })).StatusCode);

        for (var i = 0; i < 3; i++) Assert.Equal(HttpStatusCode.Unauthorized, (await LoginAsync(client, i % 2 == 0 ? "target" : "TARGET")).StatusCode);
        await AssertThrottledAsync(await LoginAsync(client, "target", "password-1"));
        Assert.Equal(HttpStatusCode.Unauthorized, (await LoginAsync(client, "someone-else")).StatusCode); // other usernames are not affected
    }

    [Fact]
    public async Task AttemptsOverThePerAddressLimitGet429WhateverTheUsername()
    {
        await using var factory = await StartAsync(perUsername: 1000, perAddress: 5);
        var client = factory.CreateClient();
        for (var i = 0; i < 5; i++) Assert.Equal(HttpStatusCode.Unauthorized, (await LoginAsync(client, $"user{i}")).StatusCode);
        await AssertThrottledAsync(await LoginAsync(client, "user-new"));
    }
}
