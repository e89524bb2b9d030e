using FlashSale.ServiceDefaults;
using FlashSale.Users.Security;
using Microsoft.AspNetCore.Authentication.JwtBearer;

namespace FlashSale.Users.Extensions;

/// <summary>Settings of the users service (read once at start; see appsettings.json for defaults).</summary>
public sealed class UsersSettings
{
    public required string Issuer { get; init; }
    public required string Audience { get; init; }
    public required TimeSpan TokenLifetime { get; init; }
    public required IReadOnlySet<string> AdminUsernames { get; init; }
    public required decimal InitialBalance { get; init; }
    public required string Currency { get; init; }

    public static UsersSettings From(IConfiguration configuration)
    {
        var admins = configuration.GetSection("Users:AdminUsernames");
        // Either a list (JSON array, Users__AdminUsernames__0) or one comma-separated value (Users__AdminUsernames=a,b).
        var names = (admins.Value is { } csv ? csv.Split(',') : admins.GetChildren().Select(c => c.Value ?? ""))
            .Select(n => n.Trim()).Where(n => n.Length > 0);
        var settings = new UsersSettings
        {
            Issuer = configuration["Auth:Issuer"] ?? "flashsale",
            Audience = configuration["Auth:Audience"] ?? "flashsale",
            TokenLifetime = configuration.GetValue("Auth:TokenLifetime", TimeSpan.FromHours(1)),
            AdminUsernames = names.ToHashSet(StringComparer.OrdinalIgnoreCase),
            InitialBalance = configuration.GetValue("Wallet:InitialBalance", 1000m),
            Currency = (configuration["Wallet:Currency"] ?? "EUR").ToUpperInvariant(),
        };
        if (settings.TokenLifetime <= TimeSpan.Zero) throw new InvalidOperationException("Configuration value 'Auth:TokenLifetime' must be positive");
        if (settings.InitialBalance < 0 || decimal.Round(settings.InitialBalance, 2) != settings.InitialBalance)
            throw new InvalidOperationException("Configuration value 'Wallet:InitialBalance' must be a non-negative amount with at most 2 decimals");
        if (settings.Currency.Length != 3) throw new InvalidOperationException("Configuration value 'Wallet:Currency' must be an ISO 4217 code");
        return settings;
    }
}

public static class Extensions
{
    public static WebApplicationBuilder AddUsersServices(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        builder.AddPostgres();
        services.AddMigrations("users", typeof(Extensions).Assembly);

        // Everything reads configuration when first resolved, so that test hosts can override it after this method ran.
        services.AddSingleton(sp => UsersSettings.From(sp.GetRequiredService<IConfiguration>()));
        services.AddSingleton(sp => SigningKey.Load(sp.GetRequiredService<IConfiguration>(), sp.GetRequiredService<ILogger<SigningKey>>(),
            sp.GetRequiredService<IHostEnvironment>().ContentRootPath));
        services.AddSingleton(sp => new PasswordHasher(sp.GetRequiredService<IConfiguration>().GetValue("Users:PasswordHashIterations", 210_000)));
        services.AddSingleton<LoginThrottle>();
        services.AddSingleton<UsersMetrics>();

        // The service validates its own tokens through the ServiceDefaults path, trusting its own JWKS inline.
        services.AddOptions<JwtBearerOptions>(JwtBearerDefaults.AuthenticationScheme)
            .Configure<JwksKeyCache, SigningKey>((_, keys, signingKey) => keys.AddKeys(JwksKeyCache.ParseJwks(signingKey.Jwks)));
        // Fail at start, not at the first request, on a bad key or settings.
        services.AddOptions<StartupChecks>().Configure<SigningKey, UsersSettings, PasswordHasher>((_, _, _, _) => { }).ValidateOnStart();
        return builder;
    }

    sealed class StartupChecks;
}
