using System.Collections.Concurrent;
using System.Threading.Channels;

namespace FlashSale.Stock;

public sealed record StockChange(string Sku, long Remaining, long Stock);

/// <summary>
/// One poller per watched sale reads Redis every <see cref="Interval"/> and fans changes out to the server-sent-event
/// subscribers, so many storefront clients cost one Redis read per interval, not one each.
/// </summary>
public sealed class StockBroadcaster(SaleStore store, ILogger<StockBroadcaster> logger) : BackgroundService
{
    public static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(200);
    readonly ConcurrentDictionary<(string Ns, string Sale), ConcurrentDictionary<Channel<StockChange>, byte>> _subscribers = new();
    readonly ConcurrentDictionary<(string, string), Dictionary<string, long>> _last = new();

    public async IAsyncEnumerable<StockChange> SubscribeAsync(string ns, string sale, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct)
    {
        var channel = Channel.CreateBounded<StockChange>(new BoundedChannelOptions(1024) { FullMode = BoundedChannelFullMode.DropOldest });
        var subs = _subscribers.GetOrAdd((ns, sale), _ => new());
        subs[channel] = 0;
        try
        {
            var snapshot = await store.GetStockAsync(new SaleKeys(ns, sale));
            // The poller compares against what subscribers were last told; a first subscriber was told this snapshot.
            _last.TryAdd((ns, sale), snapshot.ToDictionary(p => p.Sku, p => p.Remaining));
            foreach (var p in snapshot) yield return new StockChange(p.Sku, p.Remaining, p.Initial);
            await foreach (var change in channel.Reader.ReadAllAsync(ct)) yield return change;
        }
        finally { subs.TryRemove(channel, out _); }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            foreach (var ((ns, sale), subs) in _subscribers)
            {
                if (subs.IsEmpty) { _last.TryRemove((ns, sale), out _); continue; }
                try
                {
                    var stock = await store.GetStockAsync(new SaleKeys(ns, sale));
                    var last = _last.GetOrAdd((ns, sale), _ => stock.ToDictionary(p => p.Sku, p => p.Remaining));
                    foreach (var p in stock)
                    {
                        if (last.TryGetValue(p.Sku, out var before) && before == p.Remaining) continue;
                        last[p.Sku] = p.Remaining;
                        foreach (var channel in subs.Keys) channel.Writer.TryWrite(new StockChange(p.Sku, p.Remaining, p.Initial));
                    }
                }
                catch (Exception e) { logger.LogWarning(e, "Reading stock of sale {Namespace}/{Sale} for live subscribers failed", ns, sale); }
            }
        }
    }
}
