using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Npgsql;

namespace FlashSale.ServiceDefaults;

public static class PostgresExtensions
{
    /// <summary>
    /// Registers a singleton <see cref="NpgsqlDataSource"/> from <c>ConnectionStrings:&lt;connectionName&gt;</c> (also keyed by
    /// <paramref name="connectionName"/>) and a "ready" health check running <c>SELECT 1</c> with a short timeout.
    /// </summary>
    public static WebApplicationBuilder AddPostgres(this WebApplicationBuilder builder, string connectionName = "Postgres")
    {
        // Checked when the host starts, before any hosted service can touch the data source: a missing connection string
        // then fails start-up with this one message, whatever else is starting.
        var key = $"ConnectionStrings:{connectionName}";
        builder.Services.AddOptions<PostgresConnection>(connectionName)
            .Configure<IConfiguration>((o, configuration) => o.ConnectionString = configuration[key])
            .Validate(o => !string.IsNullOrWhiteSpace(o.ConnectionString), $"Configuration value '{key}' is missing")
            .ValidateOnStart();
        builder.Services.AddKeyedSingleton(connectionName, (sp, _) =>
            new NpgsqlDataSourceBuilder(sp.GetRequiredService<IConfiguration>().GetRequiredValue($"ConnectionStrings:{connectionName}"))
                .Build());
        builder.Services.TryAddSingleton(sp => sp.GetRequiredKeyedService<NpgsqlDataSource>(connectionName));
        builder.Services.AddHealthChecks().Add(new HealthCheckRegistration(
            $"postgres-{connectionName.ToLowerInvariant()}",
            sp => new PostgresHealthCheck(sp.GetRequiredKeyedService<NpgsqlDataSource>(connectionName)),
            HealthStatus.Unhealthy,
            ["ready"],
            TimeSpan.FromSeconds(3)));
        return builder;
    }
}

sealed class PostgresConnection
{
    public string? ConnectionString { get; set; }
}

sealed class PostgresHealthCheck(NpgsqlDataSource dataSource) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            await using var command = dataSource.CreateCommand("SELECT 1");
            command.CommandTimeout = 2;
            await command.ExecuteScalarAsync(cancellationToken);
            return HealthCheckResult.Healthy();
        }
        catch (Exception e) when (e is NpgsqlException or OperationCanceledException or TimeoutException or System.Net.Sockets.SocketException)
        {
            return new HealthCheckResult(context.Registration.FailureStatus, "PostgreSQL is unreachable: " + e.Message);
        }
    }
}
