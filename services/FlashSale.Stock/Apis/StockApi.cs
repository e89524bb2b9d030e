using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace FlashSale.Stock.Apis;

public sealed record ProductView(string Sku, string Name, decimal Price, string Currency, long Stock, long Remaining, int PerUserLimit, bool SoldOut);
/// <summary>A sale as buyers see it; <c>Now</c> is the platform's clock (Redis's, the one orders are decided by), for countdowns.</summary>
public sealed record SaleView(string Sale, DateTimeOffset StartsAt, DateTimeOffset EndsAt, string Status, IReadOnlyList<ProductView> Products, DateTimeOffset Now);

[JsonSerializable(typeof(ProductView))]
[JsonSerializable(typeof(SaleView))]
[JsonSerializable(typeof(StockChange))]
[JsonSerializable(typeof(SaleAudit))]
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
public partial class StockJsonContext : JsonSerializerContext;

public sealed class StockOptions
{
    public string Namespace { get; set; } = "default";
    /// <summary>The sale this deployment serves: its stock queue is consumed and its stock exported as metrics.</summary>
    public string? Sale { get; set; }
}

public static class StockApi
{
    public static IEndpointRouteBuilder MapStockApi(this IEndpointRouteBuilder app)
    {
        var sales = app.MapGroup("api/sales/{sale}");
        sales.MapGet("products", GetProductsAsync);
        sales.MapGet("products/{sku}", GetProductAsync);
        sales.MapGet("stock/stream", StreamStockAsync);
        sales.MapGet("audit", AuditAsync).RequireAuthorization(p => p.RequireClaim(JwtClaims.Role, JwtClaims.AdminRole));
        return app;
    }

    public static async Task<Results<Ok<SaleView>, ProblemHttpResult>> GetProductsAsync(string sale, [FromServices] SaleStore store,
        [FromServices] Microsoft.Extensions.Options.IOptions<StockOptions> options)
    {
        var view = await ReadAsync(store, options.Value.Namespace, sale);
        return view is null ? UnknownSale(sale) : TypedResults.Ok(view);
    }

    public static async Task<Results<Ok<ProductView>, ProblemHttpResult>> GetProductAsync(string sale, string sku, [FromServices] SaleStore store,
        [FromServices] Microsoft.Extensions.Options.IOptions<StockOptions> options)
    {
        var view = await ReadAsync(store, options.Value.Namespace, sale);
        if (view is null) return UnknownSale(sale);
        var product = view.Products.FirstOrDefault(p => p.Sku == sku);
        return product is null
            ? Problems.ReasonProblem(404, Reasons.UnknownSku, "Unknown product", $"Sale '{sale}' has no product '{sku}'.")
            : TypedResults.Ok(product);
    }

    /// <summary>Server-sent events: a snapshot of every product, then one <c>stock</c> event per change.</summary>
    public static async Task StreamStockAsync(string sale, HttpContext http, [FromServices] SaleStore store, [FromServices] StockBroadcaster broadcaster,
        [FromServices] Microsoft.Extensions.Options.IOptions<StockOptions> options, CancellationToken ct)
    {
        var ns = options.Value.Namespace;
        if (!SaleNames.IsValid(sale) || await store.GetSaleAsync(new SaleKeys(ns, sale)) is null)
        {
            await UnknownSale(sale).ExecuteAsync(http);
            return;
        }
        http.Response.ContentType = "text/event-stream";
        http.Response.Headers.CacheControl = "no-cache";
        http.Response.Headers["X-Accel-Buffering"] = "no";
        await http.Response.Body.FlushAsync(ct);
        try
        {
            await foreach (var change in broadcaster.SubscribeAsync(ns, sale, ct))
            {
                var json = JsonSerializer.Serialize(change, StockJsonContext.Default.StockChange);
                await http.Response.WriteAsync($"event: stock\ndata: {json}\n\n", ct);
                await http.Response.Body.FlushAsync(ct);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested) { }
    }

    public static async Task<Results<Ok<SaleAudit>, ProblemHttpResult>> AuditAsync(string sale, [FromServices] SaleAuditor auditor,
        [FromServices] Microsoft.Extensions.Options.IOptions<StockOptions> options, CancellationToken ct)
    {
        var audit = SaleNames.IsValid(sale) ? await auditor.AuditAsync(options.Value.Namespace, sale, ct) : null;
        return audit is null ? UnknownSale(sale) : TypedResults.Ok(audit);
    }

    static ProblemHttpResult UnknownSale(string sale) => Problems.ReasonProblem(404, Reasons.UnknownSale, "Unknown sale", $"There is no sale '{sale}'.");

    static async Task<SaleView?> ReadAsync(SaleStore store, string ns, string sale)
    {
        if (!SaleNames.IsValid(sale)) return null;
        var keys = new SaleKeys(ns, sale);
        // The status follows reserve.lua's clock (Redis TIME), not this process's: a buyer told LIVE is not answered NOT_STARTED.
        var time = store.GetTimeAsync(keys);
        var state = await store.GetSaleAsync(keys);
        var now = await time;
        if (state is null) return null;
        var stock = await store.GetStockAsync(keys);
        var products = stock.Select(p => new ProductView(p.Sku, p.Name, p.Price, state.Currency, p.Initial, p.Remaining, p.PerUserLimit, p.Remaining == 0)).ToList();
        var status = now < state.StartsAt ? "SCHEDULED" : now >= state.EndsAt ? "ENDED" : products.All(p => p.SoldOut) ? "SOLD_OUT" : "LIVE";
        return new SaleView(sale, state.StartsAt, state.EndsAt, status, products, now);
    }
}
