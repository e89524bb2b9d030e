using System.Collections.Concurrent;
using System.Text.RegularExpressions;
using Npgsql;

namespace FlashSale.Messaging;

/// <summary>
/// The inbox table <c>&lt;schema&gt;.inbox (consumer, message_id)</c>: one row per event a consumer applied, written in the
/// handler's transaction, so an event delivered again is recognised and skipped.
/// </summary>
public static partial class Inbox
{
    static readonly ConcurrentDictionary<string, string> InsertSql = new();

    /// <summary>DDL for a service's migrations (idempotent); <see cref="EnsureSchemaAsync"/> runs the same.</summary>
    public static string CreateSql(string schema = "public")
    {
        ValidateSchema(schema);
        return $"""
            CREATE SCHEMA IF NOT EXISTS {schema};
            CREATE TABLE IF NOT EXISTS {schema}.inbox (
                consumer    text        NOT NULL,
                message_id  text        NOT NULL,
                received_at timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (consumer, message_id)
            );
            CREATE INDEX IF NOT EXISTS inbox_received_at ON {schema}.inbox (received_at);
            """;
    }

    /// <summary>Creates the schema and table if missing; safe when several replicas start at once.</summary>
    public static async Task EnsureSchemaAsync(NpgsqlDataSource dataSource, string schema = "public", CancellationToken cancellationToken = default)
    {
        var ddl = CreateSql(schema);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);
        // Concurrent CREATE ... IF NOT EXISTS can still collide in the catalog: serialise them.
        await using (var lockCmd = new NpgsqlCommand("SELECT pg_advisory_xact_lock(hashtext('flashsale.inbox.' || @schema))", connection, tx))
        {
            lockCmd.Parameters.AddWithValue("schema", schema);
            await lockCmd.ExecuteNonQueryAsync(cancellationToken);
        }
        await using (var cmd = new NpgsqlCommand(ddl, connection, tx))
            await cmd.ExecuteNonQueryAsync(cancellationToken);
        await tx.CommitAsync(cancellationToken);
    }

    /// <summary>Records the event for the consumer in the transaction; false when it was already recorded (a duplicate).</summary>
    public static async Task<bool> TryRecordAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string schema, string consumer,
        string messageId, CancellationToken cancellationToken = default)
    {
        var sql = InsertSql.GetOrAdd(schema, s =>
        {
            ValidateSchema(s);
            return $"INSERT INTO {s}.inbox (consumer, message_id) VALUES ($1, $2) ON CONFLICT DO NOTHING";
        });
        await using var cmd = new NpgsqlCommand(sql, connection, transaction);
        cmd.Parameters.Add(new NpgsqlParameter { Value = consumer });
        cmd.Parameters.Add(new NpgsqlParameter { Value = messageId });
        return await cmd.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    /// <summary>Deletes inbox rows older than <paramref name="olderThan"/> (longer than any redelivery can come late).</summary>
    public static async Task<int> PruneAsync(NpgsqlDataSource dataSource, TimeSpan olderThan, string schema = "public", CancellationToken cancellationToken = default)
    {
        ValidateSchema(schema);
        await using var cmd = dataSource.CreateCommand($"DELETE FROM {schema}.inbox WHERE received_at < now() - $1");
        cmd.Parameters.Add(new NpgsqlParameter { Value = olderThan });
        return await cmd.ExecuteNonQueryAsync(cancellationToken);
    }

    static void ValidateSchema(string schema)
    {
        if (!SchemaPattern().IsMatch(schema))
            throw new ArgumentException($"'{schema}' is not a plain lowercase schema name", nameof(schema));
    }

    [GeneratedRegex("^[a-z_][a-z0-9_]{0,62}$")]
    private static partial Regex SchemaPattern();
}
