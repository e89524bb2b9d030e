using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.AspNetCore.Routing;

namespace FlashSale.ServiceDefaults.Metrics;

/// <summary>Records <c>http_server_request_duration_seconds{method,route,status}</c>; route is the endpoint's template (bounded cardinality).</summary>
sealed class HttpMetrics
{
    public const string MeterName = "FlashSale.ServiceDefaults";
    readonly Histogram<double> _duration;

    public HttpMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(MeterName);
        _duration = meter.CreateHistogram<double>("http.server.request.duration", "s", "Duration of HTTP server requests.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] });
    }

    public void Record(string method, string route, int status, TimeSpan elapsed) =>
        _duration.Record(elapsed.TotalSeconds,
            new KeyValuePair<string, object?>("method", method),
            new KeyValuePair<string, object?>("route", route),
            new KeyValuePair<string, object?>("status", Box(status)));

    static readonly object[] Statuses = [.. Enumerable.Range(0, 600).Select(s => (object)s)];

    /// <summary>The boxed status code, shared (no allocation per request for the metric's tag).</summary>
    static object Box(int status) => (uint)status < (uint)Statuses.Length ? Statuses[status] : status;

    internal static string KnownMethod(string method) => method switch
    {
        "GET" or "POST" or "PUT" or "PATCH" or "DELETE" or "HEAD" or "OPTIONS" => method,
        _ => "OTHER", // arbitrary methods must not create series
    };
}

/// <summary>Outermost middleware: times the request and records it with the final status (after exception/status-code handling).</summary>
sealed class HttpMetricsMiddleware(RequestDelegate next, HttpMetrics metrics)
{
    public async Task InvokeAsync(HttpContext context)
    {
        var route = new RouteTag();
        context.Features.Set(route);
        var started = Stopwatch.GetTimestamp();
        try
        {
            await next(context);
        }
        finally
        {
            var status = context.RequestAborted.IsCancellationRequested && !context.Response.HasStarted ? 499 : context.Response.StatusCode;
            metrics.Record(HttpMetrics.KnownMethod(context.Request.Method), route.Route ?? "unmatched", status, Stopwatch.GetElapsedTime(started));
        }
    }

    /// <summary>Set after routing, read by the outer middleware (an exception handler clears the endpoint before it finishes).</summary>
    internal sealed class RouteTag { public string? Route; }

    internal static Task CaptureRoute(HttpContext context, RequestDelegate next)
    {
        if (context.Features.Get<RouteTag>() is { } tag && context.GetEndpoint() is RouteEndpoint endpoint)
            tag.Route = Routes.GetValue(endpoint, e => "/" + (e.RoutePattern.RawText ?? "").TrimStart('/'));
        return next(context);
    }

    /// <summary>Each endpoint's route label, built once.</summary>
    static readonly System.Runtime.CompilerServices.ConditionalWeakTable<RouteEndpoint, string> Routes = new();
}
