namespace FlashSale.Users;

/// <summary><c>Users</c>: password hashing and the login and registration limits (defaults in appsettings.json).</summary>
public sealed class UsersOptions
{
    public const string Section = "Users";

    public int PasswordHashIterations { get; set; } = 210_000;
    /// <summary>Hashes waiting for a core beyond which a request is refused at once (0: one per core).</summary>
    public int PasswordHashQueueLimit { get; set; }
    public LoginRateLimitOptions LoginRateLimit { get; set; } = new();
    public RegistrationRateLimitOptions RegistrationRateLimit { get; set; } = new();

    public string? Error() => LoginRateLimit.Error() ?? RegistrationRateLimit.Error();
}

/// <summary><c>Users:LoginRateLimit</c>, see <see cref="Security.LoginThrottle"/>.</summary>
public sealed class LoginRateLimitOptions
{
    public TimeSpan Window { get; set; } = TimeSpan.FromMinutes(1);
    public int PerAddress { get; set; } = 300;
    public int PerUsernameAndAddress { get; set; } = 10;
    public int PerUsername { get; set; } = 100;
    public TimeSpan KnownAddressTtl { get; set; } = TimeSpan.FromDays(30);
    public string KeyPrefix { get; set; } = "fs:users:login:";

    public string? Error() => Window <= TimeSpan.Zero || KnownAddressTtl <= TimeSpan.Zero || PerAddress < 1 || PerUsernameAndAddress < 1 || PerUsername < 1
        ? "Users:LoginRateLimit needs a positive Window and KnownAddressTtl, and PerAddress, PerUsernameAndAddress and PerUsername of at least 1"
        : null;
}

/// <summary><c>Users:RegistrationRateLimit</c>, see <see cref="Security.RegistrationThrottle"/>.</summary>
public sealed class RegistrationRateLimitOptions
{
    public TimeSpan Window { get; set; } = TimeSpan.FromMinutes(1);
    public int PerAddress { get; set; } = 20;
    public int Global { get; set; } = 600;
    public string KeyPrefix { get; set; } = "fs:users:registration:";

    public string? Error() => Window <= TimeSpan.Zero || PerAddress < 1 || Global < 1
        ? "Users:RegistrationRateLimit needs a positive Window and PerAddress and Global of at least 1"
        : null;
}

/// <summary><c>Wallet</c>: what a new account's wallet holds.</summary>
public sealed class WalletOptions
{
    public const string Section = "Wallet";

    public decimal InitialBalance { get; set; } = 1000m;
    public string Currency { get; set; } = "EUR";

    /// <summary>The currency as stored and compared: upper case.</summary>
    public string CurrencyCode => Currency.ToUpperInvariant();

    public string? Error() =>
        InitialBalance < 0 || decimal.Round(InitialBalance, 2) != InitialBalance ? "Wallet:InitialBalance must be a non-negative amount with at most 2 decimals"
        : Currency.Length != 3 || !Currency.All(char.IsAsciiLetter) ? "Wallet:Currency must be an ISO 4217 code"
        : null;
}

/// <summary><c>Auth</c> as the issuer of tokens (the validation side is ServiceDefaults').</summary>
public sealed class TokenOptions
{
    public const string Section = "Auth";

    public string Issuer { get; set; } = "flashsale";
    public string Audience { get; set; } = "flashsale";
    public TimeSpan TokenLifetime { get; set; } = TimeSpan.FromHours(1);

    public string? Error() => TokenLifetime <= TimeSpan.Zero ? "Auth:TokenLifetime must be positive" : null;
}
