using FlashSale.Messaging;
using FlashSale.Users.Security;
using FlashSale.Users.Wallet;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace FlashSale.Users.Extensions;

public static class Extensions
{
    public static WebApplicationBuilder AddUsersServices(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        builder.AddPostgres();
        services.AddMigrations("users", typeof(Extensions).Assembly, typeof(Inbox).Assembly);
        // After the migrations (hosted services start in order): the one admin comes from configuration, never from a name.
        services.AddCheckedOptions<AdminBootstrapOptions>(AdminBootstrapOptions.Section, o => o.Error());
        services.AddHostedService<AdminBootstrap>();

        services.AddCheckedOptions<UsersOptions>(UsersOptions.Section, o => o.Error());
        services.AddCheckedOptions<WalletOptions>(WalletOptions.Section, o => o.Error());
        services.AddCheckedOptions<TokenOptions>(TokenOptions.Section, o => o.Error());
        // Everything reads configuration when first resolved, so that test hosts can override it after this method ran.
        services.AddSingleton(sp => SigningKey.Load(sp.GetRequiredService<IConfiguration>(), sp.GetRequiredService<ILogger<SigningKey>>(),
            sp.GetRequiredService<IHostEnvironment>().ContentRootPath));
        services.AddSingleton(sp =>
        {
            var o = sp.GetRequiredService<IOptions<UsersOptions>>().Value;
            return new PasswordHasher(o.PasswordHashIterations, o.PasswordHashQueueLimit);
        });
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
            services.AddEventConsumer<RefundOnExpiryHandler>(new SaleTopology(ns, sale).UsersQueue, o => o.Schema = "users");
            services.AddOptions<HealthCheckServiceOptions>().PostConfigure(health =>
            {
                foreach (var r in health.Registrations)
                    if (r.Name == MessagingExtensions.HealthCheckName) r.FailureStatus = HealthStatus.Degraded;
            });
        }
        // Fail at start, not at the first request, on a bad key or settings.
        services.AddOptions<StartupChecks>().Configure<SigningKey, PasswordHasher>((_, _, _) => { })
            .ValidateOnStart();
        return builder;
    }

    sealed class StartupChecks;
}
