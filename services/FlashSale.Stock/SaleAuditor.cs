using StackExchange.Redis;

namespace FlashSale.Stock;

public sealed record ProductAudit(
    string Sku,
    long Stock,
    long Remaining,
    long ReservedInRedis,
    long ReleasedInRedis,
    long UnitsInAcceptedOrders,
    long UnitsReleasedInPostgres,
    long? ReservedFromEvents,
    long? ReleasedFromEvents,
    bool InvariantHolds,
    bool PostgresAgrees);

public sealed record SaleAudit(
    string Namespace,
    string Sale,
    string Gate,
    DateTimeOffset At,
    IReadOnlyList<ProductAudit> Products,
    long PendingStreamEntries,
    long OrdersInPostgres,
    long DuplicateOrders,
    long UsersOverLimit,
    bool Drained,
    bool Consistent);

/// <summary>
/// Checks a sale at any moment: stock = Redis remaining + units reserved and not released, and, once the order stream is
/// drained, PostgreSQL agrees (units in non-expired orders = sold), no user holds more than the limit, no idempotency key
/// made two orders. It reads the orders schema directly: an audit spans the services by design.
/// </summary>
public sealed class SaleAuditor(IConnectionMultiplexer redis, SaleStore store, NpgsqlDataSource db)
{
    public async Task<SaleAudit?> AuditAsync(string ns, string sale, CancellationToken ct)
    {
        var keys = new SaleKeys(ns, sale);
        var state = await store.GetSaleAsync(keys);
        if (state is null) return null;
        var redisStock = await store.GetStockAsync(keys);
        var r = redis.GetDatabase();
        var pending = await r.StreamLengthAsync(keys.Stream);

        var gateStock = new Dictionary<string, long>();
        await using (var cmd = db.CreateCommand("SELECT sku, remaining FROM orders.gate_stock WHERE namespace = @ns AND sale = @sale"))
        {
            cmd.Parameters.AddWithValue("ns", ns); cmd.Parameters.AddWithValue("sale", sale);
            await using var reader = await cmd.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct)) gateStock[reader.GetString(0)] = reader.GetInt64(1);
        }
        var postgresGate = gateStock.Count > 0;

        var units = new Dictionary<string, (long Accepted, long Released, long Orders)>();
        await using (var cmd = db.CreateCommand("""
            SELECT sku, coalesce(sum(quantity) FILTER (WHERE status <> 'EXPIRED'), 0), coalesce(sum(quantity) FILTER (WHERE status = 'EXPIRED'), 0), count(*)
            FROM orders.orders WHERE namespace = @ns AND sale = @sale GROUP BY sku
            """))
        {
            cmd.Parameters.AddWithValue("ns", ns); cmd.Parameters.AddWithValue("sale", sale);
            await using var reader = await cmd.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct)) units[reader.GetString(0)] = (reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3));
        }

        var events = new Dictionary<string, (long Reserved, long Released)>();
        await using (var cmd = db.CreateCommand("SELECT sku, reserved, released FROM stock.products WHERE namespace = @ns AND sale = @sale"))
        {
            cmd.Parameters.AddWithValue("ns", ns); cmd.Parameters.AddWithValue("sale", sale);
            await using var reader = await cmd.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct)) events[reader.GetString(0)] = (reader.GetInt64(1), reader.GetInt64(2));
        }

        long duplicates, overLimit;
        await using (var cmd = db.CreateCommand("""
            SELECT
              (SELECT count(*) FROM (SELECT 1 FROM orders.orders WHERE namespace = @ns AND sale = @sale
                                     GROUP BY user_id, idempotency_key HAVING count(*) > 1) d),
              (SELECT count(*) FROM (SELECT user_id, sku, sum(quantity) AS units FROM orders.orders
                                     WHERE namespace = @ns AND sale = @sale AND status <> 'EXPIRED' GROUP BY user_id, sku) u
                                     WHERE u.units > coalesce((SELECT l FROM unnest(@skus, @limits) AS t(s, l) WHERE t.s = u.sku), 2147483647))
            """))
        {
            cmd.Parameters.AddWithValue("ns", ns); cmd.Parameters.AddWithValue("sale", sale);
            cmd.Parameters.AddWithValue("skus", redisStock.Select(p => p.Sku).ToArray());
            cmd.Parameters.AddWithValue("limits", redisStock.Select(p => p.PerUserLimit).ToArray());
            await using var reader = await cmd.ExecuteReaderAsync(ct);
            await reader.ReadAsync(ct);
            (duplicates, overLimit) = (reader.GetInt64(0), reader.GetInt64(1));
        }
        if (!postgresGate)
        {
            var limits = redisStock.ToDictionary(p => p.Sku, p => p.PerUserLimit);
            foreach (var (field, held) in await store.GetHoldingsAsync(keys))
            {
                var sku = field[(field.IndexOf('|') + 1)..];
                if (held > limits.GetValueOrDefault(sku, int.MaxValue) || held < 0) overLimit++;
            }
        }

        var drained = pending == 0;
        var products = redisStock.Select(p =>
        {
            var pg = units.GetValueOrDefault(p.Sku);
            var ev = events.TryGetValue(p.Sku, out var e) ? e : ((long, long)?)null;
            bool invariant, agrees;
            long remaining;
            if (postgresGate)
            {
                remaining = gateStock.GetValueOrDefault(p.Sku, p.Initial);
                invariant = remaining + pg.Accepted == p.Initial && remaining >= 0;
                agrees = true;
            }
            else
            {
                remaining = p.Remaining;
                invariant = p.Remaining + p.Sold == p.Initial && p.Remaining >= 0;
                agrees = !drained || pg.Accepted == p.Sold;
            }
            return new ProductAudit(p.Sku, p.Initial, remaining, p.Reserved, p.Released, pg.Accepted, pg.Released,
                ev?.Item1, ev?.Item2, invariant, agrees);
        }).ToList();
        var consistent = products.All(p => p.InvariantHolds && p.PostgresAgrees) && duplicates == 0 && overLimit == 0;
        return new SaleAudit(ns, sale, postgresGate ? "postgres" : "redis", DateTimeOffset.UtcNow, products, pending,
            units.Values.Sum(u => u.Orders), duplicates, overLimit, drained, consistent);
    }
}
