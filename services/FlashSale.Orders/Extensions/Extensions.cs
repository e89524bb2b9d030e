using FlashSale.Messaging;
using FlashSale.Orders.Apis;
using FlashSale.Orders.Gates;
using FlashSale.Orders.Relay;
using FlashSale.Sales;
using FlashSale.ServiceDefaults;
using Microsoft.Extensions.Options;

namespace FlashSale.Orders.Extensions;

public static class Extensions
{
    public static WebApplicationBuilder AddOrdersServices(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        builder.AddPostgres();
        builder.AddRedis();
        services.AddMigrations("orders", typeof(Extensions).Assembly);
        services.AddRabbitMq(builder.Configuration);
        services.AddOptions<OrdersOptions>().BindConfiguration("Orders")
            .Validate(o => o.StockGate is StockGates.Redis or StockGates.PostgresRowLock or StockGates.PostgresOptimistic,
                "Orders:StockGate must be redis, postgres-row-lock or postgres-optimistic")
            .ValidateOnStart();
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<SaleCatalog>();
        services.AddSingleton<SoldOutCache>();
        services.AddSingleton<OrdersMetrics>();
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
        services.AddHostedService<OrderStreamRelay>();
        services.AddHostedService<OutboxPublisher>();
        services.ConfigureHttpJsonOptions(o => o.SerializerOptions.TypeInfoResolverChain.Insert(0, OrdersJsonContext.Default));
        return builder;
    }
}
