using System.Diagnostics;

namespace FlashSale.ServiceDefaults.Tests;

public sealed class HealthTests
{
    static Task<WebApplication> StartAsync(string postgres) => TestApp.StartAsync(
        [.. TestTokens.AuthSettings(), new("ConnectionStrings:Postgres", postgres)], _ => { }, builder => builder.AddPostgres());

    [Fact]
    public async Task ReadyIs200WhenPostgresAnswers()
    {
        await Infra.RequireAsync(redis: false, rabbitMq: false);
        await using var app = await StartAsync(Infra.Postgres);
        var response = await app.Client().GetAsync("/healthz/ready");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("\"postgres-postgres\":{\"status\":\"Healthy\"", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task ReadyIs503QuicklyAndLiveStays200WhenPostgresIsUnreachable()
    {
        await using var app = await StartAsync("Host=127.0.0.1;Port=9;Database=x;Username=x;Password=x");
        var watch = Stopwatch.StartNew();
        var response = await app.Client().GetAsync("/healthz/ready");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(5), $"took {watch.Elapsed}");
        Assert.Equal(HttpStatusCode.OK, (await app.Client().GetAsync("/healthz/live")).StatusCode);
    }

    [Fact]
    public async Task AMissingConnectionStringNamesTheConfigurationKey()
    {
        // The host refuses to start (options validated on start), before any service could use the data source.
        var e = await Assert.ThrowsAsync<Microsoft.Extensions.Options.OptionsValidationException>(async () =>
        {
            await using var app = await TestApp.StartAsync(TestTokens.AuthSettings(), _ => { }, builder => builder.AddPostgres());
        });
        Assert.Equal("Configuration value 'ConnectionStrings:Postgres' is missing", e.Message);
    }
}
