using System.Globalization;
using System.Reflection;
using FlashSale.Contracts;
using StackExchange.Redis;

namespace FlashSale.Sales;

public enum ReserveOutcome { Accepted, Replayed, Rejected }

/// <summary>
/// What a release did: returned the units now, found them returned before, found no sale to return them to, or found the
/// order older than the sale (one of an earlier sale of the same name).
/// </summary>
public enum ReleaseOutcome { Released, AlreadyReleased, SaleNotInRedis, EarlierSale }

public readonly record struct ReserveResult(ReserveOutcome Outcome, Guid OrderId, string? Reason, string? Detail, long Remaining)
{
    public static ReserveResult Reject(string reason, string? detail = null) => new(ReserveOutcome.Rejected, Guid.Empty, reason, detail, -1);
}

/// <summary>One order for <see cref="SaleStore.ReserveManyAsync"/>.</summary>
public readonly record struct ReserveItem(Guid UserId, string Sku, int Quantity, Guid NewOrderId, string IdempotencyKey, string? Email);

public sealed record ProductStock(string Sku, long Initial, long Remaining, long Reserved, long Released, int PerUserLimit, decimal Price)
{
    /// <summary>The display name declared for the product (the sku for sales preloaded before names were kept).</summary>
    public string Name { get; init; } = Sku;

    /// <summary>Units held by orders that were not released.</summary>
    public long Sold => Reserved - Released;
}

public sealed record SaleState(DateTimeOffset StartsAt, DateTimeOffset EndsAt, TimeSpan PaymentTimeout, string Currency);

public sealed class StockBelowSoldException(string sku, long requested, long sold)
    : Exception($"spec.products stock of '{sku}' ({requested}) is below the units already sold ({sold}); refused")
{
    public string Sku { get; } = sku;
    public long Requested { get; } = requested;
    public long Sold { get; } = sold;
}

/// <summary>The sale's live state in Redis: preload, the reserve gate, release, and reads. Thread-safe; one per process.</summary>
public sealed class SaleStore(IConnectionMultiplexer redis)
{
    internal static readonly RedisScript PreloadScript = new(ReadScript("preload.lua"));
    internal static readonly RedisScript ReserveScript = new(ReadScript("reserve.lua"));
    internal static readonly RedisScript ReleaseScript = new(ReadScript("release.lua"));

    readonly IDatabase _db = redis.GetDatabase();

    public IConnectionMultiplexer Redis => redis;

    /// <summary>Loads the scripts so that calls go out as EVALSHA from the first request on.</summary>
    public async Task LoadScriptsAsync()
    {
        foreach (var endpoint in redis.GetEndPoints())
        {
            var server = redis.GetServer(endpoint);
            if (!server.IsConnected || server.IsReplica) continue;
            foreach (var s in new[] { PreloadScript, ReserveScript, ReleaseScript }) await server.ScriptLoadAsync(s.Text);
        }
    }

    public async Task<IReadOnlyList<ProductStock>> PreloadAsync(SaleDefinition sale)
    {
        var errors = sale.Validate();
        if (errors.Count > 0) throw new SaleFileException(sale.Id, errors);
        var k = new SaleKeys(sale.Namespace, sale.Name);
        var args = new List<RedisValue>
        {
            sale.Name,
            sale.StartsAt.ToUnixTimeMilliseconds(),
            sale.EndsAt.ToUnixTimeMilliseconds(),
            (long)sale.PaymentTimeout.TotalMilliseconds,
            sale.Products.Count > 0 ? sale.Products[0].Currency : "EUR",
            sale.Products.Count,
        };
        foreach (var p in sale.Products)
        {
            args.Add(p.Sku); args.Add(p.Stock); args.Add(p.PerUserLimit); args.Add(p.Price.ToString(CultureInfo.InvariantCulture)); args.Add(p.Name);
        }
        var result = (RedisResult[])(await PreloadScript.EvaluateAsync(_db,
            [k.Meta, k.Remaining, k.Initial, k.Limit, k.Price, k.Reserved, k.Released, SaleKeys.Registry(sale.Namespace), k.Names], [.. args]))!;
        if ((string)result[0]! == "ERR")
            throw new StockBelowSoldException((string)result[2]!, long.Parse((string)result[3]!), long.Parse((string)result[4]!));
        return await GetStockAsync(k);
    }

    public Task<ReserveResult> ReserveAsync(SaleKeys k, Guid userId, string sku, int quantity, Guid newOrderId, string idempotencyKey, TimeSpan idempotencyTtl, string? email = null) =>
        ReserveAsync(k, new ReserveItem(userId, sku, quantity, newOrderId, idempotencyKey, email), idempotencyTtl);

    /// <summary>Decides one order (a call of <see cref="ReserveManyAsync"/> with it alone).</summary>
    public async Task<ReserveResult> ReserveAsync(SaleKeys k, ReserveItem item, TimeSpan idempotencyTtl) => (await ReserveManyAsync(k, [item], idempotencyTtl))[0];

    /// <summary>
    /// Decides <paramref name="items"/> (orders of one sale) in one call of reserve.lua, in the order given: the same answers
    /// as one <see cref="ReserveAsync"/> after the other, in one round trip and one script run.
    /// </summary>
    public async Task<ReserveResult[]> ReserveManyAsync(SaleKeys k, IReadOnlyList<ReserveItem> items, TimeSpan idempotencyTtl)
    {
        var keys = new RedisKey[8 + items.Count];
        keys[0] = k.Meta; keys[1] = k.Remaining; keys[2] = k.Limit; keys[3] = k.Bought; keys[4] = k.Stream; keys[5] = k.Reserved; keys[6] = k.Price;
        var args = new RedisValue[1 + items.Count * 6];
        args[0] = (long)idempotencyTtl.TotalSeconds;
        for (var i = 0; i < items.Count; i++)
        {
            var item = items[i];
            var user = item.UserId.ToString("N");
            keys[7 + i] = k.Idempotency(user, item.IdempotencyKey);
            var a = 1 + i * 6;
            args[a] = user;
            args[a + 1] = item.Sku;
            args[a + 2] = item.Quantity;
            args[a + 3] = item.NewOrderId.ToString();
            args[a + 4] = item.IdempotencyKey;
            args[a + 5] = item.Email ?? "";
        }
        keys[^1] = k.Pending;
        var reply = (RedisResult[])(await ReserveScript.EvaluateAsync(_db, keys, args))!;
        if (reply.Length != items.Count * 3) throw new InvalidOperationException($"reserve.lua answered {reply.Length} values for {items.Count} orders");
        var results = new ReserveResult[items.Count];
        for (var i = 0; i < results.Length; i++)
        {
            var status = (string)reply[i * 3]!;
            var value = (string)reply[i * 3 + 1]!;
            results[i] = status switch
            {
                "OK" => new ReserveResult(ReserveOutcome.Accepted, Guid.Parse(value), null, null, long.Parse((string)reply[i * 3 + 2]!)),
                "DUP" => new ReserveResult(ReserveOutcome.Replayed, Guid.Parse(value), null, null, -1),
                _ => ReserveResult.Reject(value, (string?)reply[i * 3 + 2]),
            };
        }
        return results;
    }

    static readonly RedisScript FindPendingScript = new("""
        local id = redis.call('HGET', KEYS[1], ARGV[1])
        if not id then return false end
        local found = redis.call('XRANGE', KEYS[2], id, id)
        if #found == 0 then return false end
        return found[1][2][2]
        """);

    /// <summary>
    /// An accepted order still in the sale's stream (not yet trimmed by the relay), or null: the order as a GET or a payment
    /// needs it before the relay has written it to PostgreSQL.
    /// </summary>
    public async Task<OrderStreamEntry?> FindPendingOrderAsync(SaleKeys k, Guid orderId)
    {
        var packed = await FindPendingScript.EvaluateAsync(_db, [k.Pending, k.Stream], [orderId.ToString()]);
        return !packed.IsNull && OrderStreamEntry.TryParsePacked((byte[]?)packed, out var entry) && entry.OrderId == orderId ? entry : null;
    }

    static readonly RedisScript TrimRelayedScript = new("""
        redis.call('XTRIM', KEYS[1], 'MINID', ARGV[1])
        for i = 2, #ARGV, 1000 do
          redis.call('HDEL', KEYS[2], unpack(ARGV, i, math.min(i + 999, #ARGV)))
        end
        return 0
        """);

    /// <summary>
    /// Trims relayed orders off the sale's stream (every entry before <paramref name="minId"/>) and drops them from the
    /// pending index, in one script: a relay stopped or failing between two calls would leave index fields nothing removes.
    /// Creates no key of a deleted sale.
    /// </summary>
    public async Task TrimRelayedAsync(SaleKeys k, string minId, IReadOnlyList<Guid> orderIds)
    {
        var args = new RedisValue[1 + orderIds.Count];
        args[0] = minId;
        for (var i = 0; i < orderIds.Count; i++) args[1 + i] = orderIds[i].ToString();
        await TrimRelayedScript.EvaluateAsync(_db, [k.Stream, k.Pending], args);
    }

    /// <summary>The stored outcome of an idempotency key, if any (the same answer reserve.lua would replay).</summary>
    public async Task<ReserveResult?> FindReplayAsync(SaleKeys k, Guid userId, string idempotencyKey, string sku, int quantity)
    {
        var stored = (string?)await _db.StringGetAsync(k.Idempotency(userId, idempotencyKey));
        if (stored is null) return null;
        var sep = stored.IndexOf('#');
        return stored.AsSpan(0, sep).SequenceEqual($"{sku}|{quantity}")
            ? new ReserveResult(ReserveOutcome.Replayed, Guid.Parse(stored.AsSpan(sep + 1)), null, null, -1)
            : ReserveResult.Reject(Reasons.IdempotencyMismatch);
    }

    /// <summary>
    /// Returns an order's units to stock once per order id (release.lua); writes nothing when Redis does not hold the sale or
    /// the order is older than it (<paramref name="reservedAt"/>: when reserve.lua accepted it, as the stream entry carries it).
    /// </summary>
    public async Task<ReleaseOutcome> ReleaseAsync(SaleKeys k, Guid orderId, Guid userId, string sku, int quantity, DateTimeOffset reservedAt)
    {
        var released = (long)(await ReleaseScript.EvaluateAsync(_db,
            [k.Remaining, k.Bought, k.Released, k.ReleasedOrders, k.Initial, k.Meta],
            [orderId.ToString(), userId.ToString("N"), sku, quantity, reservedAt.ToUnixTimeMilliseconds()]));
        return released switch
        {
            1 => ReleaseOutcome.Released,
            0 => ReleaseOutcome.AlreadyReleased,
            -2 => ReleaseOutcome.EarlierSale,
            _ => ReleaseOutcome.SaleNotInRedis,
        };
    }

    public async Task<SaleState?> GetSaleAsync(SaleKeys k)
    {
        var v = await _db.HashGetAsync(k.Meta, ["starts_at_ms", "ends_at_ms", "payment_timeout_ms", "currency"]);
        if (v[0].IsNull) return null;
        return new SaleState(DateTimeOffset.FromUnixTimeMilliseconds((long)v[0]), DateTimeOffset.FromUnixTimeMilliseconds((long)v[1]),
            TimeSpan.FromMilliseconds((long)v[2]), (string?)v[3] ?? "EUR");
    }

    /// <summary>
    /// Redis's clock (TIME) on the node that holds the sale: the clock reserve.lua opens and closes the sale by, so a status
    /// computed from it agrees with the orders' answers whatever the reading process's own clock says.
    /// </summary>
    public async Task<DateTimeOffset> GetTimeAsync(SaleKeys k) =>
        new(DateTime.SpecifyKind(await redis.GetServer(k.Meta).TimeAsync(), DateTimeKind.Utc));

    public async Task<IReadOnlyList<ProductStock>> GetStockAsync(SaleKeys k)
    {
        var batch = _db.CreateBatch();
        var initial = batch.HashGetAllAsync(k.Initial);
        var remaining = batch.HashGetAllAsync(k.Remaining);
        var reserved = batch.HashGetAllAsync(k.Reserved);
        var released = batch.HashGetAllAsync(k.Released);
        var limit = batch.HashGetAllAsync(k.Limit);
        var price = batch.HashGetAllAsync(k.Price);
        var names = batch.HashGetAllAsync(k.Names);
        batch.Execute();
        static Dictionary<string, string> Map(HashEntry[] e) => e.ToDictionary(x => (string)x.Name!, x => (string)x.Value!);
        var (i, r, s, rel, l, p) = (Map(await initial), Map(await remaining), Map(await reserved), Map(await released), Map(await limit), Map(await price));
        var n = Map(await names);
        return i.Keys
            .Order(StringComparer.Ordinal)
            .Select(sku => new ProductStock(sku,
                long.Parse(i[sku]),
                long.Parse(r.GetValueOrDefault(sku, "0")),
                long.Parse(s.GetValueOrDefault(sku, "0")),
                long.Parse(rel.GetValueOrDefault(sku, "0")),
                int.Parse(l.GetValueOrDefault(sku, "1")),
                decimal.Parse(p.GetValueOrDefault(sku, "0"), CultureInfo.InvariantCulture))
            { Name = n.GetValueOrDefault(sku, sku) })
            .ToList();
    }

    /// <summary>Units each user holds per sku ("user|sku" -> units); used by audits.</summary>
    public async Task<IReadOnlyDictionary<string, long>> GetHoldingsAsync(SaleKeys k) =>
        (await _db.HashGetAllAsync(k.Bought)).ToDictionary(e => (string)e.Name!, e => (long)e.Value);

    public async Task<IReadOnlyList<string>> ListSalesAsync(string @namespace) =>
        (await _db.SetMembersAsync(SaleKeys.Registry(@namespace))).Select(v => (string)v!).Order(StringComparer.Ordinal).ToList();

    /// <summary>Removes every key of the sale (missing keys count as removed). Returns the number of keys deleted.</summary>
    public async Task<long> DeleteAsync(SaleKeys k)
    {
        long deleted = await _db.KeyDeleteAsync(k.All);
        deleted += await DeleteMatchingAsync(k.IdempotencyPrefix.Replace("[", "\\[").Replace("]", "\\]") + "*");
        await _db.SetRemoveAsync(SaleKeys.Registry(k.Namespace), k.Sale);
        return deleted;
    }

    /// <summary>
    /// Deletes the keys matching a SCAN <paramref name="pattern"/> on every primary (and, given <paramref name="which"/>, only
    /// those it accepts), 1,000 at a time. Returns the number of keys deleted.
    /// </summary>
    public async Task<long> DeleteMatchingAsync(string pattern, Func<string, bool>? which = null)
    {
        long deleted = 0;
        foreach (var endpoint in redis.GetEndPoints())
        {
            var server = redis.GetServer(endpoint);
            if (!server.IsConnected || server.IsReplica) continue;
            var batch = new List<RedisKey>();
            await foreach (var key in server.KeysAsync(pattern: pattern, pageSize: 1000))
            {
                if (which is not null && !which(key!)) continue;
                batch.Add(key);
                if (batch.Count == 1000) { deleted += await _db.KeyDeleteAsync([.. batch]); batch.Clear(); }
            }
            if (batch.Count > 0) deleted += await _db.KeyDeleteAsync([.. batch]);
        }
        return deleted;
    }

    static string ReadScript(string name)
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream("FlashSale.Sales.Scripts." + name)
            ?? throw new InvalidOperationException("embedded script missing: " + name);
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
