using System.Reflection;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Hosting;
using Npgsql;

namespace FlashSale.ServiceDefaults;

public static partial class MigrationExtensions
{
    /// <summary>
    /// Applies the embedded <c>Migrations/*.sql</c> resources of <paramref name="assemblies"/> (the service's own, and those of
    /// libraries that own tables in its schema, such as the messaging inbox) in name order when the host starts
    /// (before requests are served), under a session advisory lock derived from <paramref name="schema"/> (so several
    /// replicas starting at once apply each exactly once), each applied version recorded in <c>&lt;schema&gt;.schema_versions</c>.
    /// Each migration runs in its own transaction together with its version row; unqualified names resolve to
    /// <paramref name="schema"/>. A migration whose first line is <c>-- flashsale:no-transaction</c> runs outside a
    /// transaction instead, for statements PostgreSQL refuses inside one (<c>CREATE INDEX CONCURRENTLY</c>, which builds an
    /// index on a large table without blocking its writes): such a file holds exactly one statement and must be safe to run
    /// again (<c>IF NOT EXISTS</c>), since a crash between it and its version row would repeat it.
    /// </summary>
    public static IServiceCollection AddMigrations(this IServiceCollection services, string schema, params Assembly[] assemblies)
    {
        if (!SchemaName().IsMatch(schema)) throw new ArgumentException($"'{schema}' is not a plain lower-case schema name", nameof(schema));
        var migrations = MigrationRunner.Find(assemblies);
        services.AddSingleton<IHostedService>(sp => new MigrationRunner(
            sp.GetRequiredService<NpgsqlDataSource>(), schema, migrations, sp.GetRequiredService<ILogger<MigrationRunner>>()));
        return services;
    }

    [GeneratedRegex("^[a-z_][a-z0-9_]{0,62}$")]
    private static partial Regex SchemaName();
}

sealed class MigrationRunner(NpgsqlDataSource dataSource, string schema, IReadOnlyList<(string Version, Assembly Assembly, string Resource)> migrations,
    ILogger<MigrationRunner> logger) : IHostedService
{
    /// <summary>
    /// Embedded migrations as (version, assembly, resource name), e.g. ("001_init", FlashSale.Users,
    /// "FlashSale.Users.Migrations.001_init.sql"), in version order; a version two assemblies both define is refused.
    /// </summary>
    internal static IReadOnlyList<(string Version, Assembly Assembly, string Resource)> Find(params Assembly[] assemblies)
    {
        var found = assemblies.Distinct().SelectMany(assembly => assembly.GetManifestResourceNames()
            .Where(n => n.EndsWith(".sql", StringComparison.OrdinalIgnoreCase))
            .Select(n => (Name: n, At: Math.Max(n.LastIndexOf("Migrations.", StringComparison.Ordinal), n.LastIndexOf("Migrations/", StringComparison.Ordinal))))
            .Where(x => x.At >= 0)
            .Select(x => (Version: x.Name[(x.At + "Migrations.".Length)..^".sql".Length], Assembly: assembly, Resource: x.Name)))
            .OrderBy(x => x.Version, StringComparer.Ordinal)
            .ToList();
        if (found.GroupBy(m => m.Version).FirstOrDefault(g => g.Count() > 1) is { } twice)
            throw new ArgumentException($"Migration {twice.Key} is defined by {string.Join(" and ", twice.Select(m => m.Assembly.GetName().Name))}", nameof(assemblies));
        return found;
    }

    public const string NoTransactionMarker = "-- flashsale:no-transaction";

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        // A session lock (not a transaction's): migrations that must run outside a transaction are applied under it too.
        // Taken by polling, not by waiting inside pg_advisory_lock: a replica waiting in a statement is a running
        // transaction, which a CREATE INDEX CONCURRENTLY of the lock holder waits for (PostgreSQL reports the deadlock).
        while (true)
        {
            await using (var command = new NpgsqlCommand("SELECT pg_try_advisory_lock(hashtextextended('flashsale.migrations:' || $1, 0))", connection))
            {
                command.Parameters.Add(new NpgsqlParameter { Value = schema });
                if ((bool)(await command.ExecuteScalarAsync(cancellationToken))!) break;
            }
            await Task.Delay(TimeSpan.FromMilliseconds(200), cancellationToken); // another replica is migrating
        }
        try
        {
            await using (var command = new NpgsqlCommand($"""
                CREATE SCHEMA IF NOT EXISTS {schema};
                CREATE TABLE IF NOT EXISTS {schema}.schema_versions (
                    version text PRIMARY KEY,
                    applied_at timestamptz NOT NULL DEFAULT now()
                );
                SET search_path TO {schema}, public;
                """, connection))
            {
                await command.ExecuteNonQueryAsync(cancellationToken);
            }
            var applied = new HashSet<string>(StringComparer.Ordinal);
            await using (var command = new NpgsqlCommand($"SELECT version FROM {schema}.schema_versions", connection))
            await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
            {
                while (await reader.ReadAsync(cancellationToken)) applied.Add(reader.GetString(0));
            }
            var count = 0;
            foreach (var (version, assembly, resource) in migrations.Where(m => !applied.Contains(m.Version)))
            {
                string sql;
                await using (var stream = assembly.GetManifestResourceStream(resource)!)
                using (var reader = new StreamReader(stream))
                {
                    sql = await reader.ReadToEndAsync(cancellationToken);
                }
                var inTransaction = !sql.TrimStart().StartsWith(NoTransactionMarker, StringComparison.Ordinal);
                await using (var transaction = inTransaction ? await connection.BeginTransactionAsync(cancellationToken) : null)
                {
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
                    if (transaction is not null) await transaction.CommitAsync(cancellationToken);
                }
                logger.LogInformation("Applied migration {Version} to schema {Schema}{Mode}", version, schema, inTransaction ? "" : " (outside a transaction)");
                count++;
            }
            logger.LogInformation("Schema {Schema} is at version {Version} ({Applied} migrations applied now)", schema, migrations.LastOrDefault().Version ?? "none", count);
        }
        finally
        {
            // Npgsql resets a pooled session (DISCARD ALL) before its next use, which would also drop the lock and the
            // search_path; both are undone here explicitly all the same.
            try
            {
                await using (var unlock = new NpgsqlCommand("SELECT pg_advisory_unlock(hashtextextended('flashsale.migrations:' || $1, 0))", connection))
                {
                    unlock.Parameters.Add(new NpgsqlParameter { Value = schema });
                    await unlock.ExecuteNonQueryAsync(CancellationToken.None);
                }
                await using (var reset = new NpgsqlCommand("RESET search_path", connection)) await reset.ExecuteNonQueryAsync(CancellationToken.None);
            }
            catch (NpgsqlException e) { logger.LogWarning(e, "Releasing the migration lock of {Schema} failed; it ends with the session", schema); }
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
