namespace FlashSale.Orders.Gates;

/// <summary>The default gate: reserve.lua decides and appends the order to the sale's stream (orders of one sale that arrive together share a call, see <see cref="ReserveBatcher"/>).</summary>
public sealed class RedisStockGate(SaleStore store, SoldOutCache soldOut, ReserveBatcher batcher, IOptions<OrdersOptions> options) : IStockGate
{
    public string Name => StockGates.Redis;

    public async Task<ReserveResult> ReserveAsync(ReserveRequest r, CancellationToken ct)
    {
        var item = new ReserveItem(r.UserId, r.Sku, r.Quantity, r.NewOrderId, r.IdempotencyKey, r.Email);
        ReserveResult result;
        if (!soldOut.TryGetKeys(r.Namespace, r.Sale, out var keys))
        {
            // The first order of a sale in this replica (or one naming a sale that does not exist) goes alone; its keys are
            // kept, and later orders coalesced, once Redis knows the sale.
            keys = new SaleKeys(r.Namespace, r.Sale);
            result = await store.ReserveAsync(keys, item, options.Value.IdempotencyTtl);
            if (result.Reason != Reasons.UnknownSale) keys = soldOut.Remember(keys);
        }
        else if (soldOut.IsSoldOut(r.Namespace, r.Sale, r.Sku))
        {
            // Nothing left: a plain GET is enough to honour a replay of an order this key already made.
            var replay = await store.FindReplayAsync(keys, r.UserId, r.IdempotencyKey, r.Sku, r.Quantity);
            if (replay is { } found) return found;
            return ReserveResult.Reject(Reasons.SoldOut, "0");
        }
        else
        {
            result = await batcher.ReserveAsync(keys, item);
        }
        if (result.Reason == Reasons.SoldOut && result.Detail == "0") soldOut.MarkSoldOut(r.Namespace, r.Sale, r.Sku);
        return result;
    }
}
