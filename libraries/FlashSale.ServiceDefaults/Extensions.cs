using System.Text.Json;
using System.Text.Json.Serialization;
using FlashSale.ServiceDefaults.Metrics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace FlashSale.ServiceDefaults;

public static class Extensions
{
    /// <summary>
    /// JSON console logs, ProblemDetails for every error (no stack traces), request body limit (<c>Http:MaxRequestBodyBytes</c>),
    /// JWT bearer authentication from <c>Auth</c> + authorization, health checks and metrics.
    /// </summary>
    public static WebApplicationBuilder AddServiceDefaults(this WebApplicationBuilder builder)
    {
        builder.Logging.ClearProviders();
        builder.Logging.AddJsonConsole(o =>
        {
            o.IncludeScopes = true;
            o.UseUtcTimestamp = true;
            o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ";
        });

        var services = builder.Services;
        services.AddProblemDetails(o => o.CustomizeProblemDetails = context =>
            context.ProblemDetails.Instance ??= context.HttpContext.Request.Path.Value);
        services.AddExceptionHandler<ProblemExceptionHandler>();
        // Bad bodies (malformed JSON, wrong types, missing body, wrong content type) throw, so ProblemExceptionHandler answers them.
        services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        services.ConfigureHttpJsonOptions(o =>
        {
            o.SerializerOptions.NumberHandling = JsonNumberHandling.Strict;
            o.SerializerOptions.Converters.Add(new StrictStringConverter());
        });
        services.AddOptions<KestrelServerOptions>().Configure<IConfiguration>((o, configuration) =>
        {
            o.AddServerHeader = false;
            o.Limits.MaxRequestBodySize = configuration.GetValue("Http:MaxRequestBodyBytes", RequestBodyLimitMiddleware.DefaultMaxRequestBodyBytes);
        });

        JwtSetup.AddJwtAuthentication(services);
        services.AddHealthChecks();
        services.AddMetrics();
        services.AddSingleton<HttpMetrics>();
        services.AddSingleton<RuntimeMetrics>();
        services.AddSingleton<PrometheusExporter>();
        return builder;
    }

    /// <summary>
    /// The default pipeline (metrics, ProblemDetails, routing, strict route and query values, body limit, authentication,
    /// authorization) and the anonymous
    /// endpoints <c>/healthz/live</c>, <c>/healthz/ready</c> (checks tagged "ready") and <c>/metrics</c>.
    /// </summary>
    public static WebApplication MapDefaultEndpoints(this WebApplication app)
    {
        var exporter = app.Services.GetRequiredService<PrometheusExporter>(); // listen from the start
        app.Services.GetRequiredService<RuntimeMetrics>();
        // Behind an ingress the peer is the proxy: per-client limits need the client address from X-Forwarded-For, taken only
        // from peers in Http:ForwardedHeaders:KnownNetworks (the ingress controller's networks; the operator sets them).
        if (ForwardedHeadersFrom(app.Configuration) is { } forwarded) app.UseForwardedHeaders(forwarded);
        app.UseMiddleware<HttpMetricsMiddleware>();
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.UseRouting();
        app.Use(HttpMetricsMiddleware.CaptureRoute);
        app.Use(StrictInput.CheckRouteAndQueryAsync);
        app.UseMiddleware<RequestBodyLimitMiddleware>();
        app.UseAuthentication();
        app.UseAuthorization();

        app.MapHealthChecks("/healthz/live", new HealthCheckOptions { Predicate = _ => false, ResponseWriter = WriteHealthAsync })
            .AllowAnonymous();
        app.MapHealthChecks("/healthz/ready", new HealthCheckOptions { Predicate = c => c.Tags.Contains("ready"), ResponseWriter = WriteHealthAsync })
            .AllowAnonymous();
        app.MapGet("/metrics", () => TypedResults.Text(exporter.Scrape(), PrometheusExporter.ContentType))
            .AllowAnonymous()
            .ExcludeFromDescription();
        return app;
    }

    /// <summary>Null when no proxy network is configured: X-Forwarded-* headers are then ignored.</summary>
    internal static ForwardedHeadersOptions? ForwardedHeadersFrom(IConfiguration configuration)
    {
        var networks = configuration.GetSection("Http:ForwardedHeaders:KnownNetworks").GetChildren().Select(c => c.Value)
            .Concat((configuration["Http:ForwardedHeaders:KnownNetworks"] ?? "").Split(',')) // one comma-separated value works too
            .Select(v => v?.Trim()).Where(v => !string.IsNullOrEmpty(v)).ToList();
        if (networks.Count == 0) return null;
        var options = new ForwardedHeadersOptions { ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto, ForwardLimit = 1 };
        options.KnownIPNetworks.Clear();
        options.KnownProxies.Clear();
        foreach (var cidr in networks)
        {
            if (!System.Net.IPNetwork.TryParse(cidr, out var network))
                throw new InvalidOperationException($"Http:ForwardedHeaders:KnownNetworks: '{cidr}' is not a network in CIDR notation (e.g. 10.0.0.0/8)");
            options.KnownIPNetworks.Add(network);
        }
        return options;
    }

    static Task WriteHealthAsync(HttpContext context, HealthReport report)
    {
        context.Response.ContentType = "application/json; charset=utf-8";
        var body = new
        {
            status = report.Status.ToString(),
            checks = report.Entries.ToDictionary(e => e.Key, e => new { status = e.Value.Status.ToString(), durationMs = (int)e.Value.Duration.TotalMilliseconds }),
        };
        return context.Response.WriteAsync(JsonSerializer.Serialize(body));
    }
}
