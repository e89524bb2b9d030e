using System.Collections.Concurrent;

namespace FlashSale.Orders.Gates;

/// <summary>
/// A per-replica sold-out flag: once Redis answered SOLD_OUT with nothing left, further buyers of that sku are answered
/// without running the gate script for <see cref="Ttl"/> (a release in this replica clears it at once; one in another
/// replica is seen when the flag lapses). Idempotent replays are still honoured (see RedisStockGate).
/// </summary>
public sealed class SoldOutCache(TimeProvider time)
{
    public static readonly TimeSpan Ttl = TimeSpan.FromMilliseconds(250);
    readonly ConcurrentDictionary<(string, string), SaleKeys> _keys = new();
    readonly ConcurrentDictionary<(string, string, string), long> _until = new();

    /// <summary>The keys of a sale this replica has sold before (see <see cref="Remember"/>).</summary>
    public bool TryGetKeys(string ns, string sale, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out SaleKeys? keys) =>
        _keys.TryGetValue((ns, sale), out keys);

    /// <summary>
    /// Keeps a sale's keys once Redis has answered for it as an existing sale. Only then: a request may name any well-formed
    /// sale, and remembering every name asked for would let requests for made-up sales grow this replica's memory.
    /// </summary>
    public SaleKeys Remember(SaleKeys keys) => _keys.GetOrAdd((keys.Namespace, keys.Sale), keys);

    /// <summary>Sales whose keys are kept.</summary>
    public int KnownSales => _keys.Count;

    public bool IsSoldOut(string ns, string sale, string sku) =>
        _until.TryGetValue((ns, sale, sku), out var until) && time.GetTimestamp() < until;

    public void MarkSoldOut(string ns, string sale, string sku) =>
        _until[(ns, sale, sku)] = time.GetTimestamp() + (long)(Ttl.TotalSeconds * time.TimestampFrequency);

    public void Clear(string ns, string sale, string sku) => _until.TryRemove((ns, sale, sku), out _);
}
