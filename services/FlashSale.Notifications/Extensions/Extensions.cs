using FlashSale.Messaging;
using FlashSale.Notifications.Apis;
using FlashSale.Notifications.Delivery;

namespace FlashSale.Notifications.Extensions;

public static class Extensions
{
    public static WebApplicationBuilder AddNotificationsServices(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        builder.AddPostgres();
        services.AddMigrations("notifications", typeof(Extensions).Assembly, typeof(Inbox).Assembly);
        services.AddOptions<NotificationsOptions>().BindConfiguration("Notifications")
            .Validate(o => o.Delivery is NotificationsOptions.LogDelivery or NotificationsOptions.SmtpDelivery, "Notifications:Delivery must be log or smtp")
            .Validate(o => o.Delivery != NotificationsOptions.SmtpDelivery || (o.Smtp.Host.Length > 0 && o.Smtp.Port is > 0 and < 65536),
                "Notifications:Smtp:Host and Notifications:Smtp:Port are required when Notifications:Delivery is smtp")
            .Validate(o => o.Smtp.Security.ToLowerInvariant() is "none" or "starttls" or "ssl" or "auto", "Notifications:Smtp:Security must be none, starttls, ssl or auto")
            .Validate(o => o.MaxAttempts >= 1 && o.BatchSize >= 1 && o.PollInterval > TimeSpan.Zero && o.InitialBackoff > TimeSpan.Zero,
                "Notifications:MaxAttempts and BatchSize must be >= 1, PollInterval and InitialBackoff positive")
            .ValidateOnStart();
        services.AddSingleton<LogSender>();
        services.AddSingleton<SmtpSender>();
        services.AddSingleton<INotificationSender>(sp => sp.GetRequiredService<IOptions<NotificationsOptions>>().Value.Delivery == NotificationsOptions.SmtpDelivery
            ? sp.GetRequiredService<SmtpSender>()
            : sp.GetRequiredService<LogSender>());
        services.AddSingleton<NotificationsMetrics>();
        services.AddHostedService(sp => sp.GetRequiredService<NotificationsMetrics>());
        services.AddSingleton<NotificationDispatcher>();
        services.AddHostedService(sp => sp.GetRequiredService<NotificationDispatcher>());
        services.AddRabbitMq(builder.Configuration);
        // Consumes the configured sale's notifications queue (one sale per deployment, as the operator provisions it).
        var ns = builder.Configuration["RabbitMq:Namespace"] ?? "default";
        if (builder.Configuration["RabbitMq:Sale"] is { Length: > 0 } sale)
            services.AddEventConsumer<NotificationEventHandler>(new SaleTopology(ns, sale).NotificationsQueue, o => o.Schema = "notifications");
        services.ConfigureHttpJsonOptions(o => o.SerializerOptions.TypeInfoResolverChain.Insert(0, NotificationsJsonContext.Default));
        return builder;
    }
}
