using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;
using Npgsql;

namespace FlashSale.Users.Security;

/// <summary><c>Users:Admin</c>: the one admin account, from a Secret in Kubernetes and a generated file locally.</summary>
public sealed partial class AdminBootstrapOptions
{
    public const string Section = "Users:Admin";

    /// <summary>Empty: no admin at all (the admin endpoints answer 403 to everyone).</summary>
    public string? Username { get; set; }
    public string? Password { get; set; }
    /// <summary>Defaults to &lt;username&gt;@admin.invalid (the admin buys nothing, so it gets no mail).</summary>
    public string? Email { get; set; }

    public bool Enabled => !string.IsNullOrWhiteSpace(Username);

    public string? Error()
    {
        if (!Enabled) return string.IsNullOrEmpty(Password) ? null : "Users:Admin:Password is set but Users:Admin:Username is not";
        if (!UsernamePattern().IsMatch(Username!.Trim())) return "Users:Admin:Username must be 3-32 letters, digits, '.', '_' or '-'";
        if (Password is not { Length: >= 12 and <= 128 }) return "Users:Admin:Password must be 12 to 128 characters";
        return null;
    }

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9_.-]{2,31}$")]
    private static partial Regex UsernamePattern();
}

/// <summary>
/// Makes the configured account the only admin when the service starts: creates it, or resets the password of an account
/// already holding that name (the Secret's holder owns the name, not whoever registered it first), and takes the admin flag
/// from every other account. Replicas starting together serialize on an advisory lock.
/// </summary>
public sealed class AdminBootstrap(NpgsqlDataSource db, PasswordHasher hasher, IOptions<WalletOptions> wallet, IOptions<AdminBootstrapOptions> options,
    ILogger<AdminBootstrap> logger)
    : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var o = options.Value;
        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var lockCommand = new NpgsqlCommand("SELECT pg_advisory_xact_lock(hashtextextended('flashsale.users.admin', 0))", connection, transaction))
            await lockCommand.ExecuteNonQueryAsync(cancellationToken);

        var username = o.Username?.Trim() ?? "";
        await using (var revoke = new NpgsqlCommand("UPDATE users.users SET is_admin = false WHERE is_admin AND lower(username) <> lower($1)", connection, transaction))
        {
            revoke.Parameters.Add(new() { Value = username });
            if (await revoke.ExecuteNonQueryAsync(cancellationToken) is > 0 and var n) logger.LogWarning("Took the admin role from {Count} accounts not named in Users:Admin", n);
        }
        if (!o.Enabled)
        {
            await transaction.CommitAsync(cancellationToken);
            logger.LogInformation("No admin configured (Users:Admin:Username is empty)");
            return;
        }

        string? hash = null;
        await using (var find = new NpgsqlCommand("SELECT password_hash FROM users.users WHERE lower(username) = lower($1) FOR UPDATE", connection, transaction))
        {
            find.Parameters.Add(new() { Value = username });
            hash = (string?)await find.ExecuteScalarAsync(cancellationToken);
        }
        if (hash is null)
        {
            await using var create = new NpgsqlCommand("""
                WITH new_user AS (
                    INSERT INTO users.users (id, username, email, password_hash, is_admin) VALUES ($1, $2, $3, $4, true) RETURNING id
                ), new_wallet AS (
                    INSERT INTO users.wallets (user_id, balance, currency) SELECT id, 0, $5 FROM new_user RETURNING user_id
                )
                INSERT INTO users.wallet_ledger (user_id, kind, amount, balance_after, currency) SELECT user_id, 'initial', 0, 0, $5 FROM new_wallet
                """, connection, transaction);
            create.Parameters.Add(new() { Value = Guid.CreateVersion7() });
            create.Parameters.Add(new() { Value = username });
            create.Parameters.Add(new() { Value = string.IsNullOrWhiteSpace(o.Email) ? $"{username.ToLowerInvariant()}@admin.invalid" : o.Email.Trim() });
            create.Parameters.Add(new() { Value = await hasher.HashAsync(o.Password!, cancellationToken) });
            create.Parameters.Add(new() { Value = wallet.Value.CurrencyCode });
            await create.ExecuteNonQueryAsync(cancellationToken);
            logger.LogInformation("Created the admin account {Username}", username);
        }
        else
        {
            var same = await hasher.VerifyAsync(o.Password!, hash, cancellationToken);
            await using var update = new NpgsqlCommand(
                "UPDATE users.users SET is_admin = true, password_hash = coalesce($2, password_hash) WHERE lower(username) = lower($1)", connection, transaction);
            update.Parameters.Add(new() { Value = username });
            update.Parameters.Add(new() { Value = same ? DBNull.Value : await hasher.HashAsync(o.Password!, cancellationToken), NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
            await update.ExecuteNonQueryAsync(cancellationToken);
            if (!same) logger.LogInformation("Set the password of the admin account {Username} from Users:Admin:Password", username);
        }
        await transaction.CommitAsync(cancellationToken);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
