using System.Security.Claims;
using System.Text.RegularExpressions;
using FlashSale.Users.Extensions;
using FlashSale.Users.Security;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Npgsql;

namespace FlashSale.Users.Apis;

public sealed record RegisterRequest(string? Username, string? Email, string? Password);
public sealed record LoginRequest(string? Username, string? Password);
public sealed record DebitRequest(Guid? OrderId, decimal? Amount, string? Currency);
public sealed record TopUpRequest(decimal? Amount);

public sealed record UserResponse(Guid Id, string Username, string Email, DateTimeOffset CreatedAt);
public sealed record MeResponse(Guid Id, string Username, string Email, bool Admin, DateTimeOffset CreatedAt);
public sealed record TokenResponse(string AccessToken, string TokenType, int ExpiresIn, DateTimeOffset ExpiresAt);
/// <summary>
/// The answer to a registration: the new user and a token for them, as a login right after would give (sign-up signs in).
/// The registration has just hashed the password the user chose; a login would only spend a second PBKDF2 run to check it.
/// </summary>
public sealed record RegisteredResponse(Guid Id, string Username, string Email, DateTimeOffset CreatedAt, TokenResponse Token);
public sealed record WalletResponse(Guid UserId, decimal Balance, string Currency);
public sealed record DebitResponse(Guid OrderId, Guid UserId, decimal Amount, string Currency, decimal Balance, DateTimeOffset DebitedAt);

/// <summary>Dependencies of the handlers, bound with [AsParameters].</summary>
public sealed class UsersServices(NpgsqlDataSource db, PasswordHasher hasher, SigningKey signingKey, IOptions<WalletOptions> wallet, IOptions<TokenOptions> tokens,
    LoginThrottle throttle, RegistrationThrottle registrations, UsersMetrics metrics, ILogger<UsersServices> logger)
{
    public NpgsqlDataSource Db { get; } = db;
    public PasswordHasher Hasher { get; } = hasher;
    public SigningKey SigningKey { get; } = signingKey;
    public IOptions<WalletOptions> Wallet { get; } = wallet;
    public IOptions<TokenOptions> Tokens { get; } = tokens;
    public LoginThrottle Throttle { get; } = throttle;
    public RegistrationThrottle Registrations { get; } = registrations;
    public UsersMetrics Metrics { get; } = metrics;
    public ILogger<UsersServices> Logger { get; } = logger;
}

public static partial class UsersApi
{
    public static IEndpointRouteBuilder MapUsersApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/.well-known/jwks.json", GetJwks).AllowAnonymous();

        var users = app.MapGroup("api/users");
        users.MapPost("/", Register).AllowAnonymous();
        users.MapPost("/login", Login).AllowAnonymous();
        users.MapGet("/me", GetMe).RequireAuthorization();
        users.MapGet("/{id:guid}", GetUser).RequireAuthorization(p => p.RequireRole(JwtClaims.AdminRole));
        users.MapPost("/{id:guid}/wallet/topups", TopUp).RequireAuthorization(p => p.RequireRole(JwtClaims.AdminRole));

        var wallet = app.MapGroup("api/wallet").RequireAuthorization();
        wallet.MapGet("/", GetWallet);
        wallet.MapPost("/debits", Debit);
        return app;
    }

    public static ContentHttpResult GetJwks(SigningKey key, HttpContext http)
    {
        http.Response.Headers.CacheControl = "public, max-age=300";
        return TypedResults.Text(key.Jwks, "application/json");
    }

    public static async Task<Results<Created<RegisteredResponse>, ProblemHttpResult>> Register(
        RegisterRequest request, HttpContext http, [AsParameters] UsersServices s, CancellationToken cancellationToken)
    {
        var errors = Validate(request);
        if (errors.Count > 0) return Problems.ValidationProblem(errors);
        string username = request.Username!.Trim(), email = request.Email!.Trim();
        var address = ClientAddress(http);
        if (await s.Registrations.TryRegisterAsync(address) is { } retryAfter)
        {
            s.Metrics.Registration("throttled");
            s.Logger.LogWarning("Throttled registration from {ClientAddress}", address);
            return TooMany(http, retryAfter, "Too many registrations; retry later.");
        }
        var id = Guid.CreateVersion7();
        if (await s.Hasher.TryHashAsync(request.Password!, cancellationToken) is not { } hash)
        {
            s.Metrics.Registration("busy");
            return TooMany(http, TimeSpan.FromSeconds(1), "The service is busy; retry later.");
        }
        await using var command = s.Db.CreateCommand("""
            WITH new_user AS (
                INSERT INTO users.users (id, username, email, password_hash) VALUES ($1, $2, $3, $4)
                RETURNING id, created_at
            ), new_wallet AS (
                INSERT INTO users.wallets (user_id, balance, currency) SELECT id, $5, $6 FROM new_user
                RETURNING user_id
            ), opening AS (
                INSERT INTO users.wallet_ledger (user_id, kind, amount, balance_after, currency) SELECT user_id, 'initial', $5, $5, $6 FROM new_wallet
            )
            SELECT created_at FROM new_user
            """);
        command.Parameters.Add(new() { Value = id });
        command.Parameters.Add(new() { Value = username });
        command.Parameters.Add(new() { Value = email });
        command.Parameters.Add(new() { Value = hash });
        command.Parameters.Add(new() { Value = s.Wallet.Value.InitialBalance });
        command.Parameters.Add(new() { Value = s.Wallet.Value.CurrencyCode });
        DateTimeOffset createdAt;
        try
        {
            createdAt = new DateTimeOffset((DateTime)(await command.ExecuteScalarAsync(cancellationToken))!);
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UniqueViolation)
        {
            s.Metrics.Registration("conflict");
            return e.ConstraintName == "users_email_unique"
                ? Problems.ReasonProblem(StatusCodes.Status409Conflict, "EMAIL_TAKEN", "The email address is already registered.")
                : Problems.ReasonProblem(StatusCodes.Status409Conflict, "USERNAME_TAKEN", "The username is already taken.");
        }
        s.Metrics.Registration("created");
        s.Logger.LogInformation("Registered user {UserId} with username {Username}", id, username);
        await s.Throttle.SucceededAsync(username, address); // the registration signs in: its address is the user's
        return TypedResults.Created($"/api/users/{id}", new RegisteredResponse(id, username, email, createdAt, IssueToken(s, id, username, email, admin: false)));
    }

    public static async Task<Results<Ok<TokenResponse>, ProblemHttpResult>> Login(
        LoginRequest request, HttpContext http, [AsParameters] UsersServices s, CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        if (string.IsNullOrWhiteSpace(request.Username)) errors["username"] = ["Required."];
        else if (request.Username.Length > 64) errors["username"] = ["At most 64 characters."];
        if (string.IsNullOrEmpty(request.Password)) errors["password"] = ["Required."];
        else if (request.Password.Length > MaxPasswordLength) errors["password"] = [$"At most {MaxPasswordLength} characters."];
        if (errors.Count > 0) return Problems.ValidationProblem(errors);

        var username = request.Username!.Trim();
        var address = ClientAddress(http);
        if (await s.Throttle.TryAttemptAsync(username, address) is { } retryAfter)
        {
            s.Metrics.Login("throttled");
            s.Logger.LogWarning("Throttled login attempt for {Username} from {ClientAddress}", username, address);
            return TooMany(http, retryAfter, "Too many login attempts; retry later.");
        }

        await using var command = s.Db.CreateCommand("SELECT id, username, password_hash, email, is_admin FROM users.users WHERE lower(username) = lower($1)");
        command.Parameters.Add(new() { Value = username });
        (Guid Id, string Username, string Hash, string Email, bool Admin)? user = null;
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            if (await reader.ReadAsync(cancellationToken))
                user = (reader.GetGuid(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetBoolean(4));
        }
        // Unknown user and wrong password answer alike, after the same PBKDF2 work.
        var verified = await s.Hasher.TryVerifyAsync(request.Password!, user?.Hash, cancellationToken);
        if (verified is null)
        {
            s.Metrics.Login("busy");
            return TooMany(http, TimeSpan.FromSeconds(1), "The service is busy; retry later.");
        }
        if (verified == false || user is null)
        {
            await s.Throttle.FailedAsync(username, address);
            s.Metrics.Login("failed");
            s.Logger.LogInformation("Failed login for {Username} from {ClientAddress}", username, address);
            return Problems.ReasonProblem(StatusCodes.Status401Unauthorized, "INVALID_CREDENTIALS", "The username or password is incorrect.");
        }

        await s.Throttle.SucceededAsync(username, address);
        s.Metrics.Login("succeeded");
        s.Logger.LogInformation("User {UserId} logged in from {ClientAddress}", user.Value.Id, address);
        return TypedResults.Ok(IssueToken(s, user.Value.Id, user.Value.Username, user.Value.Email, user.Value.Admin));
    }

    static string ClientAddress(HttpContext http) => http.Connection.RemoteIpAddress?.ToString() ?? "unknown";

    /// <summary>429 with Retry-After in whole seconds (at least 1) and reason TOO_MANY_ATTEMPTS, for every limit of this service.</summary>
    static ProblemHttpResult TooMany(HttpContext http, TimeSpan retryAfter, string title)
    {
        http.Response.Headers.RetryAfter = ((int)Math.Ceiling(Math.Max(1, retryAfter.TotalSeconds))).ToString();
        return Problems.ReasonProblem(StatusCodes.Status429TooManyRequests, "TOO_MANY_ATTEMPTS", title);
    }

    /// <summary>The token carries the e-mail address so that the order path needs no lookup to address an order's mails.</summary>
    static TokenResponse IssueToken(UsersServices s, Guid id, string username, string email, bool admin)
    {
        var now = DateTime.UtcNow;
        var token = s.SigningKey.CreateToken(id, username, email, admin, s.Tokens.Value.Issuer, s.Tokens.Value.Audience, now, s.Tokens.Value.TokenLifetime);
        return new TokenResponse(token, "Bearer", (int)s.Tokens.Value.TokenLifetime.TotalSeconds, now + s.Tokens.Value.TokenLifetime);
    }

    public static async Task<Results<Ok<MeResponse>, ProblemHttpResult>> GetMe(
        ClaimsPrincipal principal, [AsParameters] UsersServices s, CancellationToken cancellationToken)
    {
        var user = await FindUserAsync(s.Db, principal.GetUserId(), cancellationToken);
        return user is null
            ? UserNotFound()
            : TypedResults.Ok(new MeResponse(user.Id, user.Username, user.Email, principal.IsInRole(JwtClaims.AdminRole), user.CreatedAt));
    }

    public static async Task<Results<Ok<UserResponse>, ProblemHttpResult>> GetUser(Guid id, [AsParameters] UsersServices s, CancellationToken cancellationToken) =>
        await FindUserAsync(s.Db, id, cancellationToken) is { } user ? TypedResults.Ok(user) : UserNotFound();

    public static async Task<Results<Ok<WalletResponse>, ProblemHttpResult>> GetWallet(
        ClaimsPrincipal principal, [AsParameters] UsersServices s, CancellationToken cancellationToken)
    {
        var userId = principal.GetUserId();
        await using var command = s.Db.CreateCommand("SELECT balance, currency FROM users.wallets WHERE user_id = $1");
        command.Parameters.Add(new() { Value = userId });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken)
            ? TypedResults.Ok(new WalletResponse(userId, reader.GetDecimal(0), reader.GetString(1)))
            : WalletNotFound();
    }

    /// <summary>
    /// Debits the caller's wallet once per order id: the wallet row is locked, a debit already recorded for the order is
    /// answered again as it was, the balance never goes below zero; balance update and ledger row commit together.
    /// </summary>
    public static async Task<Results<Ok<DebitResponse>, ProblemHttpResult>> Debit(
        DebitRequest request, ClaimsPrincipal principal, [AsParameters] UsersServices s, CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        if (request.OrderId is null || request.OrderId == Guid.Empty) errors["orderId"] = ["Required."];
        ValidateAmount(request.Amount, errors);
        if (string.IsNullOrWhiteSpace(request.Currency)) errors["currency"] = ["Required."];
        else if (!CurrencyCode().IsMatch(request.Currency)) errors["currency"] = ["An ISO 4217 code such as EUR."];
        if (errors.Count > 0) return Problems.ValidationProblem(errors);

        var userId = principal.GetUserId();
        Guid orderId = request.OrderId!.Value;
        decimal amount = request.Amount!.Value;
        var currency = request.Currency!;

        await using var connection = await s.Db.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        decimal balance;
        string walletCurrency;
        await using (var command = new NpgsqlCommand("SELECT balance, currency FROM users.wallets WHERE user_id = $1 FOR UPDATE", connection, transaction))
        {
            command.Parameters.Add(new() { Value = userId });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            if (!await reader.ReadAsync(cancellationToken)) return WalletNotFound();
            (balance, walletCurrency) = (reader.GetDecimal(0), reader.GetString(1));
        }

        if (await FindDebitAsync(connection, transaction, orderId, cancellationToken) is { } existing)
        {
            s.Metrics.Debit("replayed");
            return existing.UserId == userId && existing.Amount == amount && existing.Currency == currency
                ? TypedResults.Ok(existing)
                : IdempotencyMismatch(orderId);
        }
        if (currency != walletCurrency)
            return Problems.ReasonProblem(StatusCodes.Status422UnprocessableEntity, "CURRENCY_MISMATCH",
                "The wallet holds another currency.", $"The wallet holds {walletCurrency}.");
        if (balance < amount)
        {
            s.Metrics.Debit("insufficient_funds");
            return Problems.ReasonProblem(StatusCodes.Status409Conflict, "INSUFFICIENT_FUNDS", "The wallet balance is too low.",
                $"The balance is {balance} {walletCurrency}.");
        }

        DebitResponse debit;
        try
        {
            await using var command = new NpgsqlCommand("""
                WITH debited AS (
                    UPDATE users.wallets SET balance = balance - $2, updated_at = now()
                    WHERE user_id = $1 AND balance >= $2
                    RETURNING user_id, balance, currency
                )
                INSERT INTO users.wallet_ledger (user_id, kind, amount, balance_after, currency, order_id)
                SELECT user_id, 'debit', -$2, balance, currency, $3 FROM debited
                RETURNING balance_after, created_at
                """, connection, transaction);
            command.Parameters.Add(new() { Value = userId });
            command.Parameters.Add(new() { Value = amount });
            command.Parameters.Add(new() { Value = orderId });
            await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
            {
                if (!await reader.ReadAsync(cancellationToken)) throw new InvalidOperationException("The locked wallet changed during the debit");
                debit = new DebitResponse(orderId, userId, amount, walletCurrency, reader.GetDecimal(0), new DateTimeOffset(reader.GetDateTime(1)));
            }
            await transaction.CommitAsync(cancellationToken);
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UniqueViolation)
        {
            // The same order id was just debited from another user's wallet.
            return IdempotencyMismatch(orderId);
        }
        s.Metrics.Debit("debited");
        s.Logger.LogInformation("Debited {Amount} {Currency} from the wallet of {UserId} for order {OrderId}", amount, walletCurrency, userId, orderId);
        return TypedResults.Ok(debit);
    }

    public static async Task<Results<Ok<WalletResponse>, ProblemHttpResult>> TopUp(
        Guid id, TopUpRequest request, ClaimsPrincipal principal, [AsParameters] UsersServices s, CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        ValidateAmount(request.Amount, errors);
        if (errors.Count > 0) return Problems.ValidationProblem(errors);
        await using var command = s.Db.CreateCommand("""
            WITH credited AS (
                UPDATE users.wallets SET balance = balance + $2, updated_at = now() WHERE user_id = $1
                RETURNING user_id, balance, currency
            )
            INSERT INTO users.wallet_ledger (user_id, kind, amount, balance_after, currency)
            SELECT user_id, 'topup', $2, balance, currency FROM credited
            RETURNING balance_after, currency
            """);
        command.Parameters.Add(new() { Value = id });
        command.Parameters.Add(new() { Value = request.Amount!.Value });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken)) return WalletNotFound();
        var wallet = new WalletResponse(id, reader.GetDecimal(0), reader.GetString(1));
        s.Logger.LogInformation("Admin {AdminId} topped up the wallet of {UserId} by {Amount}", principal.GetUserId(), id, request.Amount);
        return TypedResults.Ok(wallet);
    }

    static async Task<UserResponse?> FindUserAsync(NpgsqlDataSource db, Guid id, CancellationToken cancellationToken)
    {
        await using var command = db.CreateCommand("SELECT id, username, email, created_at FROM users.users WHERE id = $1");
        command.Parameters.Add(new() { Value = id });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken)
            ? new UserResponse(reader.GetGuid(0), reader.GetString(1), reader.GetString(2), new DateTimeOffset(reader.GetDateTime(3)))
            : null;
    }

    static async Task<DebitResponse?> FindDebitAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid orderId, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(
            "SELECT user_id, -amount, currency, balance_after, created_at FROM users.wallet_ledger WHERE order_id = $1 AND kind = 'debit'", connection, transaction);
        command.Parameters.Add(new() { Value = orderId });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken)
            ? new DebitResponse(orderId, reader.GetGuid(0), reader.GetDecimal(1), reader.GetString(2), reader.GetDecimal(3), new DateTimeOffset(reader.GetDateTime(4)))
            : null;
    }

    static ProblemHttpResult UserNotFound() => Problems.ReasonProblem(StatusCodes.Status404NotFound, "USER_NOT_FOUND", "The user does not exist.");
    static ProblemHttpResult WalletNotFound() => Problems.ReasonProblem(StatusCodes.Status404NotFound, "WALLET_NOT_FOUND", "The wallet does not exist.");
    static ProblemHttpResult IdempotencyMismatch(Guid orderId) => Problems.ReasonProblem(StatusCodes.Status409Conflict, "IDEMPOTENCY_MISMATCH",
        "The order was already debited with other values.", $"Order {orderId} was debited before with another amount, currency or wallet.");

    const int MaxPasswordLength = 128;
    const decimal MaxAmount = 1_000_000m;

    static Dictionary<string, string[]> Validate(RegisterRequest request)
    {
        var errors = new Dictionary<string, string[]>();
        var username = request.Username?.Trim();
        if (string.IsNullOrEmpty(username)) errors["username"] = ["Required."];
        else if (username.Length is < 3 or > 32) errors["username"] = ["Between 3 and 32 characters."];
        else if (!UsernamePattern().IsMatch(username)) errors["username"] = ["Letters, digits, '.', '_' and '-', starting with a letter or digit."];
        var email = request.Email?.Trim();
        if (string.IsNullOrEmpty(email)) errors["email"] = ["Required."];
        else if (email.Length > 254) errors["email"] = ["At most 254 characters."];
        else if (!EmailPattern().IsMatch(email)) errors["email"] = ["Not an email address."];
        if (string.IsNullOrEmpty(request.Password)) errors["password"] = ["Required."];
        else if (request.Password.Length is < 8 or > MaxPasswordLength) errors["password"] = [$"Between 8 and {MaxPasswordLength} characters."];
        return errors;
    }

    static void ValidateAmount(decimal? amount, Dictionary<string, string[]> errors)
    {
        if (amount is null) errors["amount"] = ["Required."];
        else if (amount <= 0 || amount > MaxAmount) errors["amount"] = [$"Greater than 0 and at most {MaxAmount}."];
        else if (decimal.Round(amount.Value, 2) != amount) errors["amount"] = ["At most 2 decimals."];
    }

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
    private static partial Regex UsernamePattern();

    [GeneratedRegex(@"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
    private static partial Regex EmailPattern();

    [GeneratedRegex("^[A-Z]{3}$")]
    private static partial Regex CurrencyCode();
}
