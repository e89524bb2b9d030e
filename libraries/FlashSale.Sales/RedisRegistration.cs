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
        builder.Services.AddSingleton<IConnectionMultiplexer>(sp => Connect(sp.GetRequiredService<IConfiguration>(), connectionName));
        builder.Services.AddSingleton(sp => new SaleStore(sp.GetRequiredService<IConnectionMultiplexer>()));
        builder.Services.AddHealthChecks().AddCheck<RedisHealthCheck>("redis", tags: ["ready"]);
        return builder;
    }

    /// <summary>
    /// A multiplexer for ConnectionStrings:{connectionName} with FlashSale's settings (never blocking start when Redis is down,
    /// completions on the .NET thread pool). Also used for a second connection where bulk work must not share a socket with
    /// the request path.
    /// </summary>
    public static ConnectionMultiplexer Connect(IConfiguration configuration, string connectionName = "Redis", string? clientName = null) =>
        ConnectionMultiplexer.Connect(Options(configuration, connectionName, clientName));

    /// <summary>
    /// <see cref="Connect"/> without blocking the caller: the task completes after the first attempt (up to the connect
    /// timeout when Redis is down), with a multiplexer that keeps reconnecting on its own.
    /// </summary>
    public static Task<ConnectionMultiplexer> ConnectAsync(IConfiguration configuration, string connectionName = "Redis", string? clientName = null) =>
        ConnectionMultiplexer.ConnectAsync(Options(configuration, connectionName, clientName));

    static ConfigurationOptions Options(IConfiguration configuration, string connectionName, string? clientName)
    {
        var key = "ConnectionStrings:" + connectionName;
        var options = ConfigurationOptions.Parse(configuration[key] ?? throw new InvalidOperationException($"Configuration value '{key}' is missing"));
        options.AbortOnConnectFail = false;
        options.ConnectRetry = 3;
        options.ConnectTimeout = 5000;
        options.SyncTimeout = 5000;
        options.AsyncTimeout = 5000;
        if (clientName is not null) options.ClientName = clientName;
        // The .NET thread pool rather than the library's ten dedicated I/O threads: on a 2-core replica those threads
        // took half the sampled thread time (dotnet-trace, make bench) competing with Kestrel for the same cores.
        options.SocketManager = SocketManager.ThreadPool;
        return options;
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
