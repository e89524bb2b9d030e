using System.Reflection;
using System.Text.RegularExpressions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace FlashSale.ServiceDefaults;

public static partial class MigrationExtensions
{
    /// <summary>
    /// Applies the embedded <c>Migrations/*.sql</c> resources of <paramref name="assembly"/> in name order when the host starts
    /// (before requests are served): one transaction, under an advisory lock derived from <paramref name="schema"/>, each applied
    /// version recorded in <c>&lt;schema&gt;.schema_versions</c>. Safe when several replicas start at once.
    /// Unqualified names in the scripts resolve to <paramref name="schema"/> (search_path is set for the transaction).
    /// </summary>
    public static IServiceCollection AddMigrations(this IServiceCollection services, string schema, Assembly assembly)
    {
        if (!SchemaName().IsMatch(schema)) throw new ArgumentException($"'{schema}' is not a plain lower-case schema name", nameof(schema));
        services.AddSingleton<IHostedService>(sp => new MigrationRunner(
            sp.GetRequiredService<NpgsqlDataSource>(), schema, assembly, sp.GetRequiredService<ILogger<MigrationRunner>>()));
        return services;
    }

    [GeneratedRegex("^[a-z_][a-z0-9_]{0,62}$")]
    private static partial Regex SchemaName();
}

sealed class MigrationRunner(NpgsqlDataSource dataSource, string schema, Assembly assembly, ILogger<MigrationRunner> logger) : IHostedService
{
    /// <summary>Embedded migrations as (version, resource name), e.g. ("001_init", "FlashSale.Users.Migrations.001_init.sql").</summary>
    internal static IReadOnlyList<(string Version, string Resource)> Find(Assembly assembly) =>
    [
        .. assembly.GetManifestResourceNames()
            .Where(n => n.EndsWith(".sql", StringComparison.OrdinalIgnoreCase))
            .Select(n => (Name: n, At: Math.Max(n.LastIndexOf("Migrations.", StringComparison.Ordinal), n.LastIndexOf("Migrations/", StringComparison.Ordinal))))
            .Where(x => x.At >= 0)
            .Select(x => (Version: x.Name[(x.At + "Migrations.".Length)..^".sql".Length], Resource: x.Name))
            .OrderBy(x => x.Version, StringComparer.Ordinal)
    ];

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var migrations = Find(assembly);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var command = new NpgsqlCommand("SELECT pg_advisory_xact_lock(hashtextextended('flashsale.migrations:' || $1, 0))", connection, transaction))
        {
            command.Parameters.Add(new NpgsqlParameter { Value = schema });
            command.CommandTimeout = 0; // another replica may be migrating
            await command.ExecuteNonQueryAsync(cancellationToken);
        }
        await using (var command = new NpgsqlCommand($"""
            CREATE SCHEMA IF NOT EXISTS {schema};
            CREATE TABLE IF NOT EXISTS {schema}.schema_versions (
                version text PRIMARY KEY,
                applied_at timestamptz NOT NULL DEFAULT now()
            );
            SET LOCAL search_path TO {schema}, public;
            """, connection, transaction))
        {
            await command.ExecuteNonQueryAsync(cancellationToken);
        }
        var applied = new HashSet<string>(StringComparer.Ordinal);
        await using (var command = new NpgsqlCommand($"SELECT version FROM {schema}.schema_versions", connection, transaction))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken)) applied.Add(reader.GetString(0));
        }
        var count = 0;
        foreach (var (version, resource) in migrations.Where(m => !applied.Contains(m.Version)))
        {
            string sql;
            await using (var stream = assembly.GetManifestResourceStream(resource)!)
            using (var reader = new StreamReader(stream))
            {
                sql = await reader.ReadToEndAsync(cancellationToken);
            }
            await using (var command = new NpgsqlCommand(sql, connection, transaction))
            {
                command.CommandTimeout = 0;
                await command.ExecuteNonQueryAsync(cancellationToken);
            }
            await using (var command = new NpgsqlCommand($"INSERT INTO {schema}.schema_versions (version) VALUES ($1)", connection, transaction))
            {
                command.Parameters.Add(new NpgsqlParameter { Value = version });
                await command.ExecuteNonQueryAsync(cancellationToken);
            }
            logger.LogInformation("Applied migration {Version} to schema {Schema}", version, schema);
            count++;
        }
        await transaction.CommitAsync(cancellationToken);
        logger.LogInformation("Schema {Schema} is at version {Version} ({Applied} migrations applied now)", schema, migrations.LastOrDefault().Version ?? "none", count);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
