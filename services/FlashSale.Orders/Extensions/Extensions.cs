using FlashSale.Orders.Apis;
using FlashSale.Orders.Expiry;
using FlashSale.Orders.Gates;
using FlashSale.Orders.Payments;
using FlashSale.Orders.Relay;
using FlashSale.ServiceDefaults;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace FlashSale.Orders.Extensions;

public static class Extensions
{
    public static WebApplicationBuilder AddOrdersServices(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        builder.AddPostgres();
        builder.AddRedis();
        // Redis down, or its connection lost mid-call: 503 with Retry-After, not 500 (its timeouts are TimeoutExceptions already).
        builder.Services.AddDependencyUnavailable<StackExchange.Redis.RedisConnectionException>();
        services.AddMigrations("orders", typeof(Extensions).Assembly, typeof(Inbox).Assembly);
        services.AddRabbitMq(builder.Configuration);
        services.AddOptions<OrdersOptions>().BindConfiguration("Orders")
            .Validate(o => o.StockGate is StockGates.Redis or StockGates.PostgresRowLock or StockGates.PostgresOptimistic,
                "Orders:StockGate must be redis, postgres-row-lock or postgres-optimistic")
            .Validate(o => o.Relay.Workers >= 1, "Orders:Relay:Workers must be >= 1")
            .Validate(o => o.Relay.BatchSize >= 1, "Orders:Relay:BatchSize must be >= 1")
            .Validate(o => o.Relay.LeaseTime >= TimeSpan.FromMilliseconds(300), "Orders:Relay:LeaseTime must be at least 00:00:00.3 (it is renewed every third of it)")
            .Validate(o => o.Relay.IdleDelay >= TimeSpan.Zero, "Orders:Relay:IdleDelay must not be negative")
            .ValidateOnStart();
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<SaleCatalog>();
        services.AddSingleton<OrderWriter>();
        services.AddSingleton<SoldOutCache>();
        services.AddSingleton<OrdersMetrics>();
        services.AddSingleton<ReserveBatcher>();
        services.AddSingleton<RedisStockGate>();
        services.AddSingleton<PostgresRowLockGate>();
        services.AddSingleton<PostgresOptimisticGate>();
        services.AddSingleton<IStockGate>(sp => sp.GetRequiredService<IOptions<OrdersOptions>>().Value.StockGate switch
        {
            StockGates.PostgresRowLock => sp.GetRequiredService<PostgresRowLockGate>(),
            StockGates.PostgresOptimistic => sp.GetRequiredService<PostgresOptimisticGate>(),
            _ => sp.GetRequiredService<RedisStockGate>(),
        });
        services.AddSingleton<OrderServices>();
        // With the Redis gate the request path needs only Redis: PostgreSQL and RabbitMQ outages are absorbed by the
        // order stream (the outbox), so they make the replica Degraded (still ready), never unready.
        services.AddOptions<HealthCheckServiceOptions>().PostConfigure<IOptions<OrdersOptions>>((health, orders) =>
        {
            if (orders.Value.StockGate != StockGates.Redis) return;
            foreach (var r in health.Registrations)
                if (r.Name.StartsWith("postgres", StringComparison.Ordinal) || r.Name == MessagingExtensions.HealthCheckName) r.FailureStatus = HealthStatus.Degraded;
        });
        services.AddSingleton<RelayRedis>();
        services.AddSingleton<OrderStreamRelay>();
        services.AddHostedService(sp => sp.GetRequiredService<OrderStreamRelay>());
        services.AddHostedService<OutboxPublisher>();
        services.AddHostedService<OrderStreamGauges>();
        services.ConfigureHttpJsonOptions(o =>
        {
            o.SerializerOptions.TypeInfoResolverChain.Insert(0, OrdersJsonContext.Default);
            o.SerializerOptions.TypeInfoResolverChain.Insert(1, OutboxAdminJsonContext.Default);
        });
        builder.AddPaymentAndExpiry();
        return builder;
    }

    /// <summary>Payment (wallet debit through a resilience pipeline) and expiry (orders.expiry queue + PostgreSQL sweep).</summary>
    static void AddPaymentAndExpiry(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<OrdersOptions>()
            .Validate(o => o.Payment.Lease > o.Payment.Timeout, "Orders:Payment:Lease must be longer than Orders:Payment:Timeout")
            .Validate(o => o.Payment.Timeout > TimeSpan.Zero && o.Payment.AttemptTimeout > TimeSpan.Zero && o.Payment.MaxRetries >= 0,
                "Orders:Payment:Timeout and AttemptTimeout must be positive, MaxRetries >= 0")
            .Validate(o => o.Expiry.BatchSize >= 1, "Orders:Expiry:BatchSize must be >= 1");
        // The resilience pipeline bounds each call; the client's own timeout must not cut in first.
        services.AddHttpClient(UsersWallet.HttpClientName, c => c.Timeout = Timeout.InfiniteTimeSpan);
        services.AddSingleton<UsersWallet>();
        services.AddSingleton<PaymentServices>();
        services.AddSingleton<OrderExpirer>();
        services.AddHostedService<ExpirySweeper>();
        var configuration = builder.Configuration;
        if (!configuration.GetValue("Orders:Expiry:Enabled", true)) return;
        var ns = configuration["Orders:Namespace"] ?? "default";
        var sales = configuration.GetSection("Orders:Expiry:Sales") is { Value: { } csv } ? csv.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            : configuration.GetSection("Orders:Expiry:Sales").GetChildren().Select(c => c.Value ?? "").Where(v => v.Length > 0).ToArray();
        if (sales.Length == 0 && configuration["RabbitMq:Sale"] is { Length: > 0 } sale) sales = [sale];
        foreach (var s in sales.Distinct())
            services.AddEventConsumer<OrderExpiryHandler>(new SaleTopology(ns, s).ExpiryQueue, o => o.Schema = "orders");
    }
}
