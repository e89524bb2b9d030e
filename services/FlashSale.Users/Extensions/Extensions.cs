using FlashSale.Messaging;
using FlashSale.Users.Security;
using FlashSale.Users.Wallet;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace FlashSale.Users.Extensions;

/// <summary>Settings of the users service (read once at start; see appsettings.json for defaults).</summary>
public sealed class UsersSettings
{
    public required string Issuer { get; init; }
    public required string Audience { get; init; }
    public required TimeSpan TokenLifetime { get; init; }
    public required decimal InitialBalance { get; init; }
    public required string Currency { get; init; }

    public static UsersSettings From(IConfiguration configuration)
    {
        var settings = new UsersSettings
        {
            Issuer = configuration["Auth:Issuer"] ?? "flashsale",
            Audience = configuration["Auth:Audience"] ?? "flashsale",
            TokenLifetime = configuration.GetValue("Auth:TokenLifetime", TimeSpan.FromHours(1)),
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
        // After the migrations (hosted services start in order): the one admin comes from configuration, never from a name.
        services.AddOptions<AdminBootstrapOptions>().BindConfiguration(AdminBootstrapOptions.Section).Validate(o => o.Error() is null, "invalid Users:Admin").ValidateOnStart();
        services.AddHostedService<AdminBootstrap>();

        // Everything reads configuration when first resolved, so that test hosts can override it after this method ran.
        services.AddSingleton(sp => UsersSettings.From(sp.GetRequiredService<IConfiguration>()));
        services.AddSingleton(sp => SigningKey.Load(sp.GetRequiredService<IConfiguration>(), sp.GetRequiredService<ILogger<SigningKey>>(),
            sp.GetRequiredService<IHostEnvironment>().ContentRootPath));
        services.AddSingleton(sp => new PasswordHasher(sp.GetRequiredService<IConfiguration>().GetValue("Users:PasswordHashIterations", 210_000),
            sp.GetRequiredService<IConfiguration>().GetValue("Users:PasswordHashQueueLimit", 0)));
        services.AddSingleton<WindowCounters>();
        services.AddSingleton<LoginThrottle>();
        services.AddSingleton<RegistrationThrottle>();
        services.AddSingleton<UsersMetrics>();

        // The service validates its own tokens through the ServiceDefaults path, trusting its own JWKS inline.
        services.AddOptions<BearerTokenOptions>(BearerTokenOptions.Scheme)
            .Configure<JwksKeyCache, SigningKey>((_, keys, signingKey) => keys.AddKeys(JwksKeyCache.ParseJwks(signingKey.Jwks)));
        // Refunds of debited orders that expired: the sale's order.expired events (one sale per deployment, as the operator
        // provisions it; without RabbitMq:Sale, e.g. a users service shared by local sales, there is nothing to consume).
        // RabbitMQ being down must not stop logins: it makes the service Degraded, never unready.
        var ns = builder.Configuration["RabbitMq:Namespace"] ?? "default";
        if (builder.Configuration["RabbitMq:Sale"] is { Length: > 0 } sale)
        {
            services.AddRabbitMq(builder.Configuration);
            services.AddEventConsumer<RefundOnExpiryHandler>(new SaleTopology(ns, sale).UsersQueue, o =>
            {
                o.Schema = "users";
                o.EnsureInboxSchema = false; // migration 002
            });
            services.AddOptions<HealthCheckServiceOptions>().PostConfigure(health =>
            {
                foreach (var r in health.Registrations)
                    if (r.Name == MessagingExtensions.HealthCheckName) r.FailureStatus = HealthStatus.Degraded;
            });
        }
        // Fail at start, not at the first request, on a bad key or settings.
        services.AddOptions<StartupChecks>().Configure<SigningKey, UsersSettings, PasswordHasher, LoginThrottle, RegistrationThrottle>((_, _, _, _, _, _) => { })
            .ValidateOnStart();
        return builder;
    }

    sealed class StartupChecks;
}
