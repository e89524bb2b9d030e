namespace FlashSale.Stock.Extensions;

public static class Extensions
{
    public static WebApplicationBuilder AddStockServices(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        builder.AddPostgres();
        builder.AddRedis();
        // Redis down, or its connection lost mid-call: 503 with Retry-After, not 500 (its timeouts are TimeoutExceptions already).
        builder.Services.AddDependencyUnavailable<StackExchange.Redis.RedisConnectionException>();
        services.AddMigrations("stock", typeof(Extensions).Assembly, typeof(Inbox).Assembly);
        services.AddOptions<StockOptions>().BindConfiguration("Stock");
        services.AddSingleton<SaleAuditor>();
        services.AddSingleton<StockBroadcaster>();
        services.AddHostedService(sp => sp.GetRequiredService<StockBroadcaster>());
        services.AddHostedService<StockGauges>();
        services.AddRabbitMq(builder.Configuration);
        // Consume the configured sale's stock queue (one sale per deployment, as the operator provisions it).
        var ns = builder.Configuration["Stock:Namespace"] ?? "default";
        if (builder.Configuration["Stock:Sale"] is { Length: > 0 } sale)
            services.AddEventConsumer<StockEventHandler>(new SaleTopology(ns, sale).StockQueue, o => o.Schema = "stock");
        services.ConfigureHttpJsonOptions(o => o.SerializerOptions.TypeInfoResolverChain.Insert(0, StockJsonContext.Default));
        return builder;
    }
}
