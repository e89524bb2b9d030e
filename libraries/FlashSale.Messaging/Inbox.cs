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

    /// <summary>
    /// The inbox's migration (Migrations/000_inbox.sql), which each consuming service applies in its schema through
    /// AddMigrations; its names are unqualified, so it creates the table in the schema of the connection's search_path.
    /// </summary>
    public static string MigrationSql { get; } = ReadMigration();

    static string ReadMigration()
    {
        using var stream = typeof(Inbox).Assembly.GetManifestResourceStream("FlashSale.Messaging.Migrations.000_inbox.sql")
            ?? throw new InvalidOperationException("the inbox migration is not embedded");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    /// <summary>
    /// Records the events for the consumer in the transaction, in one statement; returns the ids recorded now (the others
    /// were recorded before: duplicates to skip).
    /// </summary>
    public static async Task<IReadOnlySet<string>> RecordAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string schema, string consumer,
        string[] messageIds, CancellationToken cancellationToken = default)
    {
        var sql = InsertSql.GetOrAdd(schema, s =>
        {
            ValidateSchema(s);
            return $"INSERT INTO {s}.inbox (consumer, message_id) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING RETURNING message_id";
        });
        await using var cmd = new NpgsqlCommand(sql, connection, transaction);
        cmd.Parameters.Add(new NpgsqlParameter { Value = consumer });
        cmd.Parameters.Add(new NpgsqlParameter { Value = messageIds });
        var fresh = new HashSet<string>(messageIds.Length, StringComparer.Ordinal);
        await using var reader = await cmd.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken)) fresh.Add(reader.GetString(0));
        return fresh;
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
