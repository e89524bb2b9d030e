using System.Diagnostics.Metrics;
using Microsoft.Extensions.Options;

namespace FlashSale.Stock;

/// <summary>
/// flashsale_stock_remaining and flashsale_stock_sold of the sale this deployment serves (Stock:Sale), per sku as preload
/// wrote them from the sale definition. Redis is read every <see cref="Interval"/> in the background, so a scrape reads memory.
/// </summary>
public sealed class StockGauges : BackgroundService
{
    public const string MeterName = "FlashSale.Stock";
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(5);
    readonly SaleStore _store;
    readonly StockOptions _options;
    readonly ILogger<StockGauges> _logger;
    volatile IReadOnlyList<ProductStock> _stock = [];

    public StockGauges(SaleStore store, IOptions<StockOptions> options, IMeterFactory meters, ILogger<StockGauges> logger)
    {
        _store = store;
        _options = options.Value;
        _logger = logger;
        var meter = meters.Create(MeterName);
        meter.CreateObservableGauge("flashsale.stock.remaining", () => Measure(p => p.Remaining),
            description: "Units of the product left to sell (Redis, sampled every few seconds)");
        meter.CreateObservableGauge("flashsale.stock.sold", () => Measure(p => p.Sold),
            description: "Units of the product held by accepted orders not expired (reserved minus returned; Redis, sampled every few seconds)");
    }

    IEnumerable<Measurement<long>> Measure(Func<ProductStock, long> value) =>
        _stock.Select(p => new Measurement<long>(value(p), new("sale", _options.Sale), new("sku", p.Sku)));

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (_options.Sale is not { Length: > 0 } sale) return;
        await Task.Yield();
        var keys = new SaleKeys(_options.Namespace, sale);
        using var timer = new PeriodicTimer(Interval);
        try
        {
            do
            {
                try
                {
                    _stock = await _store.GetStockAsync(keys);
                }
                catch (Exception e) when (!stoppingToken.IsCancellationRequested)
                {
                    _logger.LogDebug(e, "Could not sample the stock of sale {Sale}; keeping the last sample", sale);
                }
            }
            while (await timer.WaitForNextTickAsync(stoppingToken));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested) { }
    }
}
