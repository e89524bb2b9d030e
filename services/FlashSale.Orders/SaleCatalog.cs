using System.Collections.Concurrent;
using FlashSale.Sales;

namespace FlashSale.Orders;

/// <summary>The sales of this namespace as preloaded in Redis, cached briefly (the schedule may be edited while live).</summary>
public sealed class SaleCatalog(SaleStore store, TimeProvider time)
{
    static readonly TimeSpan CacheFor = TimeSpan.FromSeconds(2);
    readonly ConcurrentDictionary<(string, string), (SaleState? State, DateTimeOffset At)> _cache = new();

    public async ValueTask<SaleState?> GetAsync(string ns, string sale)
    {
        var now = time.GetUtcNow();
        if (_cache.TryGetValue((ns, sale), out var hit) && now - hit.At < CacheFor) return hit.State;
        var state = await store.GetSaleAsync(new SaleKeys(ns, sale));
        _cache[(ns, sale)] = (state, now);
        return state;
    }
}
