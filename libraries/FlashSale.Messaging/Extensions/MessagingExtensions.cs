using FlashSale.Messaging;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;

namespace Microsoft.Extensions.DependencyInjection;

public static class MessagingExtensions
{
    public const string HealthCheckName = "rabbitmq";

    /// <summary>
    /// Registers <see cref="RabbitMqOptions"/> (<c>ConnectionStrings:RabbitMq</c> + section <c>RabbitMq</c>), the lazy
    /// <see cref="IRabbitMqConnection"/>, <see cref="IEventPublisher"/>, the configured sale's <see cref="SaleTopology"/>
    /// and the health check "rabbitmq" tagged "ready". Nothing connects at start: a broker that is down makes the
    /// service not ready, never stops it.
    /// </summary>
    public static IServiceCollection AddRabbitMq(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<RabbitMqOptions>()
            .Bind(configuration.GetSection(RabbitMqOptions.SectionName))
            .Configure(o => o.ConnectionString = configuration.GetConnectionString("RabbitMq") ?? "")
            .Validate(o => Uri.TryCreate(o.ConnectionString, UriKind.Absolute, out var uri) && uri.Scheme is "amqp" or "amqps",
                $"Configuration value '{RabbitMqOptions.ConnectionStringPath}' is required: an amqp:// or amqps:// URI")
            .Validate(o => o.PublisherChannels >= 1 && o.PublishTimeout > TimeSpan.Zero,
                $"'{RabbitMqOptions.SectionName}:PublisherChannels' must be >= 1 and '{RabbitMqOptions.SectionName}:PublishTimeout' > 0")
            .ValidateOnStart();

        services.TryAddSingleton<IRabbitMqConnection, RabbitMqConnection>();
        services.TryAddSingleton<IEventPublisher, RabbitMqEventPublisher>();
        services.TryAddSingleton(sp => sp.GetRequiredService<IOptions<RabbitMqOptions>>().Value.GetSaleTopology()
            ?? throw new InvalidOperationException($"Configuration value '{RabbitMqOptions.SectionName}:Sale' is required (with '{RabbitMqOptions.SectionName}:Namespace') to name the sale's topology"));

        if (!services.Any(d => d.ServiceType == typeof(RabbitMqHealthCheck)))
        {
            services.AddSingleton<RabbitMqHealthCheck>();
            services.AddHealthChecks().AddCheck<RabbitMqHealthCheck>(HealthCheckName, HealthStatus.Unhealthy, ["ready"], TimeSpan.FromSeconds(5));
        }
        return services;
    }

    /// <summary>
    /// Consumes <paramref name="queue"/> with <typeparamref name="THandler"/> (resolved per delivery in a DI scope), its inbox
    /// in <c>&lt;Schema&gt;.inbox</c> as the service's migrations create it. Needs <c>NpgsqlDataSource</c> in DI. Settings:
    /// <c>RabbitMq:Consumers:&lt;HandlerType&gt;</c>, then <paramref name="configure"/>.
    /// </summary>
    public static IServiceCollection AddEventConsumer<THandler>(this IServiceCollection services, string queue, Action<EventConsumerOptions>? configure = null)
        where THandler : class, IEventHandler
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(queue);
        services.TryAddScoped<THandler>();
        services.AddSingleton(new ConsumedQueue(_ => queue));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, QueueGauges>());
        services.AddSingleton<IHostedService>(sp =>
        {
            var name = typeof(THandler).Name;
            var options = new EventConsumerOptions { ConsumerName = name };
            sp.GetService<IConfiguration>()?.GetSection($"{RabbitMqOptions.SectionName}:Consumers:{name}").Bind(options);
            configure?.Invoke(options);
            if (string.IsNullOrWhiteSpace(options.ConsumerName) || options.MaxAttempts < 1 || options.Prefetch < 1 || options.RetryDelay < TimeSpan.Zero)
                throw new OptionsValidationException(name, typeof(EventConsumerOptions),
                    [$"'{RabbitMqOptions.SectionName}:Consumers:{name}': ConsumerName must be set, MaxAttempts and Prefetch >= 1, RetryDelay >= 0"]);
            return ActivatorUtilities.CreateInstance<EventConsumerHost<THandler>>(sp, options, queue);
        });
        return services;
    }
}
