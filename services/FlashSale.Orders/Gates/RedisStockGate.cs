using FlashSale.Sales;

namespace FlashSale.Orders.Gates;

/// <summary>The default gate: reserve.lua decides and appends the order to the sale's stream (orders of one sale that arrive together share a call, see <see cref="ReserveBatcher"/>).</summary>
public sealed class RedisStockGate(SaleStore store, SoldOutCache soldOut, ReserveBatcher batcher) : IStockGate
{
    public string Name => StockGates.Redis;

    public async Task<ReserveResult> ReserveAsync(ReserveRequest r, CancellationToken ct)
    {
        var keys = soldOut.Keys(r.Namespace, r.Sale);
        if (soldOut.IsSoldOut(r.Namespace, r.Sale, r.Sku))
        {
            // Nothing left: a plain GET is enough to honour a replay of an order this key already made.
            var replay = await store.FindReplayAsync(keys, r.UserId, r.IdempotencyKey, r.Sku, r.Quantity);
            if (replay is { } found) return found;
            return ReserveResult.Reject(Reasons.SoldOut, "0");
        }
        var result = await batcher.ReserveAsync(keys, new ReserveItem(r.UserId, r.Sku, r.Quantity, r.NewOrderId, r.IdempotencyKey, r.Email));
        if (result.Reason == Reasons.SoldOut && result.Detail == "0") soldOut.MarkSoldOut(r.Namespace, r.Sale, r.Sku);
        return result;
    }
}
