using System.Collections.Concurrent;

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
        // Only sales that exist are kept: requests may name any well-formed sale, and keeping every name asked for would let
        // requests for made-up sales grow the replica's memory.
        if (state is null) _cache.TryRemove((ns, sale), out _);
        else _cache[(ns, sale)] = (state, now);
        return state;
    }

    /// <summary>Sales whose state is kept.</summary>
    public int KnownSales => _cache.Count;
}
