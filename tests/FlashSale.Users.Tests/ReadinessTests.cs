namespace FlashSale.Users.Tests;

/// <summary>Stops and restarts a private PostgreSQL (never the shared one) under a running users service.</summary>
public sealed class ReadinessTests
{
    static async Task<HttpStatusCode> WaitForReadyStatusAsync(HttpClient client, HttpStatusCode expected, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        HttpStatusCode status;
        do
        {
            status = (await client.GetAsync("/healthz/ready")).StatusCode;
            if (status == expected) return status;
            await Task.Delay(250);
        } while (DateTime.UtcNow < deadline);
        return status;
    }

    [Fact]
    public async Task ReadyIs503WhilePostgresIsStoppedAndReadyAgainWhenItReturnsWithoutARestart()
    {
        await using var infra = new PrivateInfra("users-ready");
        await infra.StartAsync("postgres");
        await using var factory = new UsersFactory(UsersFactory.DefaultSettings(infra.Postgres, TestTokens.NewSigningKeyPem()));
        var client = factory.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/healthz/ready")).StatusCode);

        await infra.StopAsync("postgres");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, await WaitForReadyStatusAsync(client, HttpStatusCode.ServiceUnavailable, TimeSpan.FromSeconds(20)));
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/healthz/live")).StatusCode);
        var whileDown = await client.PostAsJsonAsync("/api/users", new { username = "late", email = "late@example.com", password = "password-1" });
        await whileDown.IsProblemAsync(HttpStatusCode.ServiceUnavailable, "DEPENDENCY_UNAVAILABLE");
        Assert.Equal("5", Assert.Single(whileDown.Headers.GetValues("Retry-After")));

        await infra.StartAsync("postgres");
        Assert.Equal(HttpStatusCode.OK, await WaitForReadyStatusAsync(client, HttpStatusCode.OK, TimeSpan.FromSeconds(30)));
        var afterwards = await client.PostAsJsonAsync("/api/users", new { username = "late", email = "late@example.com", password = "password-1" });
        Assert.Equal(HttpStatusCode.Created, afterwards.StatusCode);
    }
}
