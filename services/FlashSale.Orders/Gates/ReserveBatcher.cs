using System.Collections.Concurrent;

namespace FlashSale.Orders.Gates;

/// <summary>
/// Coalesces the reserve calls of one sale ("natural batching"): a request goes to Redis at once while fewer than
/// <see cref="ReserveBatchOptions.MaxInFlight"/> calls of its sale are in flight from this replica; otherwise it waits for
/// one of them to come back and leaves with every order that queued up meanwhile (at most
/// <see cref="ReserveBatchOptions.MaxSize"/>) in one reserve.lua call. An idle replica adds no wait; a busy one makes one
/// round trip, one script run and one thread-pool wake-up per batch instead of per order. The script decides the orders one
/// after the other, so a batch gives the answers the same orders sent alone in that order would have got.
/// A failed call fails each order of its batch, as the single call would have (the orders it accepted before failing are in
/// the stream; a retry with the same Idempotency-Key replays them).
/// </summary>
public sealed class ReserveBatcher(SaleStore store, IOptions<OrdersOptions> options, OrdersMetrics metrics)
{
    readonly ConcurrentDictionary<SaleKeys, Lane> _lanes = new(ReferenceEqualityComparer.Instance);

    public Task<ReserveResult> ReserveAsync(SaleKeys keys, ReserveItem item)
    {
        var o = options.Value.ReserveBatch;
        if (o.MaxSize <= 1) return store.ReserveAsync(keys, item, options.Value.IdempotencyTtl);
        var lane = _lanes.GetOrAdd(keys, static k => new Lane(k));
        var pending = new Pending(item);
        List<Pending>? batch = null;
        lock (lane)
        {
            lane.Queue.Add(pending);
            if (lane.InFlight < Math.Max(1, o.MaxInFlight))
            {
                lane.InFlight++;
                batch = lane.Take(o.MaxSize);
            }
        }
        if (batch is not null) _ = SendAsync(lane, batch);
        return pending.Task;
    }

    async Task SendAsync(Lane lane, List<Pending> batch)
    {
        metrics.ReserveBatch(batch.Count);
        ReserveResult[]? results = null;
        Exception? error = null;
        try
        {
            var items = new ReserveItem[batch.Count];
            for (var i = 0; i < items.Length; i++) items[i] = batch[i].Item;
            results = await store.ReserveManyAsync(lane.Keys, items, options.Value.IdempotencyTtl);
        }
        catch (Exception e)
        {
            error = e;
        }
        // The orders that queued meanwhile go out first; then this batch's requests go on, one after the other on this thread
        // (their continuations run inline: one thread-pool hand-off per batch instead of one per order).
        List<Pending>? next = null;
        lock (lane)
        {
            if (lane.Queue.Count == 0) lane.InFlight--;
            else next = lane.Take(options.Value.ReserveBatch.MaxSize);
        }
        if (next is not null) _ = SendAsync(lane, next);
        for (var i = 0; i < batch.Count; i++)
        {
            if (error is null) batch[i].TrySetResult(results![i]);
            else batch[i].TrySetException(error);
        }
    }

    sealed class Lane(SaleKeys keys)
    {
        public SaleKeys Keys { get; } = keys;
        public List<Pending> Queue { get; } = [];
        public int InFlight;

        /// <summary>The oldest queued orders, at most <paramref name="max"/> (called under the lane's lock).</summary>
        public List<Pending> Take(int max)
        {
            var n = Math.Min(Queue.Count, Math.Max(1, max));
            var batch = Queue.GetRange(0, n);
            Queue.RemoveRange(0, n);
            return batch;
        }
    }

    sealed class Pending(ReserveItem item) : TaskCompletionSource<ReserveResult>(TaskCreationOptions.None)
    {
        public ReserveItem Item { get; } = item;
    }
}

/// <summary>Orders:ReserveBatch: coalescing of a sale's concurrent reserve calls (see <see cref="ReserveBatcher"/>).</summary>
public sealed class ReserveBatchOptions
{
    /// <summary>Most orders in one reserve.lua call; 1 sends every order on its own.</summary>
    public int MaxSize { get; set; } = 64;
    /// <summary>Reserve calls of one sale in flight at once from this replica; more orders wait and go in the next batch.</summary>
    public int MaxInFlight { get; set; } = 2;
}
