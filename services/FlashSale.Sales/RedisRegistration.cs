using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using StackExchange.Redis;

namespace FlashSale.Sales;

public static class RedisRegistration
{
    /// <summary>
    /// Registers one shared multiplexer from ConnectionStrings:Redis (never blocking start when Redis is down),
    /// the <see cref="SaleStore"/>, and a "ready" health check that pings Redis.
    /// </summary>
    public static WebApplicationBuilder AddRedis(this WebApplicationBuilder builder, string connectionName = "Redis")
    {
        var key = "ConnectionStrings:" + connectionName;
        builder.Services.AddSingleton<IConnectionMultiplexer>(sp =>
        {
            var connectionString = sp.GetRequiredService<IConfiguration>()[key]
                ?? throw new InvalidOperationException($"Configuration value '{key}' is missing");
            var options = ConfigurationOptions.Parse(connectionString);
            options.AbortOnConnectFail = false;
            options.ConnectRetry = 3;
            options.ConnectTimeout = 5000;
            options.SyncTimeout = 5000;
            options.AsyncTimeout = 5000;
            // The .NET thread pool rather than the library's ten dedicated I/O threads: on a 2-core replica those threads
            // took half the sampled thread time (dotnet-trace, make bench) competing with Kestrel for the same cores.
            options.SocketManager = SocketManager.ThreadPool;
            return ConnectionMultiplexer.Connect(options);
        });
        builder.Services.AddSingleton(sp => new SaleStore(sp.GetRequiredService<IConnectionMultiplexer>()));
        builder.Services.AddHealthChecks().AddCheck<RedisHealthCheck>("redis", tags: ["ready"]);
        return builder;
    }
}

public sealed class RedisHealthCheck(IConnectionMultiplexer redis, SaleStore store) : IHealthCheck
{
    bool _scriptsLoaded;

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken ct = default)
    {
        try
        {
            var ping = await redis.GetDatabase().PingAsync().WaitAsync(TimeSpan.FromSeconds(2), ct);
            if (!_scriptsLoaded) { await store.LoadScriptsAsync(); _scriptsLoaded = true; }
            return HealthCheckResult.Healthy($"ping {ping.TotalMilliseconds:F1} ms");
        }
        catch (Exception e)
        {
            _scriptsLoaded = false;
            return HealthCheckResult.Unhealthy("Redis is not reachable", e);
        }
    }
}
