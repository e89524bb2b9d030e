using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Http;
using FlashSale.Sales;
using Npgsql;
using StackExchange.Redis;

namespace FlashSale.LoadTest;

/// <summary>
/// The lag from a 202 to each later step of its order, measured on a sample of the accepted orders (every
/// <see cref="Every"/>th): in PostgreSQL (orders.orders), published (the relay trimmed it from the stream after the broker's
/// confirm, so it left the sale's pending index), applied by the stock and notifications consumers (their inbox rows) and by
/// the expiry consumer (its inbox row, measured from the order's due time: the wait queue holds it for the payment timeout).
/// Each step is polled for the sampled orders it has not seen yet, by primary key.
/// </summary>
public sealed class PipelineLag
{
    public const int Every = 20;
    static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(50);

    sealed class Step(string name, TimeSpan offset, Func<List<Guid>, Task<HashSet<Guid>>> seen)
    {
        public string Name { get; } = name;
        public TimeSpan Offset { get; } = offset;
        public Func<List<Guid>, Task<HashSet<Guid>>> Seen { get; } = seen;
        public Dictionary<Guid, long> Outstanding { get; } = [];
        public List<(long AcceptedAt, double LagMs)> Lags { get; } = [];
        public long LastSeenAt { get; set; }
    }

    readonly ConcurrentQueue<(Guid Id, long At)> _accepted = new();
    readonly List<Step> _steps = [];
    readonly List<long> _sampled = [];
    long _count;
    long _firstAt, _lastAt;

    public PipelineLag(NpgsqlDataSource db, IDatabase redis, SaleKeys sale, TimeSpan paymentTimeout)
    {
        _steps.Add(new("in PostgreSQL", TimeSpan.Zero, ids => QueryAsync(db, "SELECT order_id FROM orders.orders WHERE order_id = ANY(@ids)", ids, null)));
        _steps.Add(new("published", TimeSpan.Zero, async ids =>
        {
            var values = await redis.HashGetAsync(sale.Pending, [.. ids.Select(i => (RedisValue)i.ToString())]);
            return [.. ids.Where((_, i) => values[i].IsNull)];
        }));
        _steps.Add(new("applied by stock", TimeSpan.Zero, ids => InboxAsync(db, "stock", "StockEventHandler", ids)));
        _steps.Add(new("applied by notifications", TimeSpan.Zero, ids => InboxAsync(db, "notifications", "NotificationEventHandler", ids)));
        _steps.Add(new("applied by expiry (after the payment timeout)", paymentTimeout, ids => InboxAsync(db, "orders", "OrderExpiryHandler", ids)));
    }

    /// <summary>For <see cref="LoadPlan.OnAccepted"/>: samples every <see cref="Every"/>th 202 by the order id of its Location.</summary>
    public void OnAccepted(long _, HttpResponseMessage response)
    {
        var now = Stopwatch.GetTimestamp();
        Interlocked.CompareExchange(ref _firstAt, now, 0);
        Volatile.Write(ref _lastAt, now);
        if (Interlocked.Increment(ref _count) % Every != 0) return;
        var location = response.Headers.Location?.OriginalString;
        if (location is not null && Guid.TryParse(location.AsSpan(location.LastIndexOf('/') + 1), out var id)) _accepted.Enqueue((id, now));
    }

    public long Accepted => Interlocked.Read(ref _count);

    /// <summary>Polls every step until <paramref name="stop"/>, then until every sampled order passed every step or <paramref name="drain"/> is over.</summary>
    public async Task RunAsync(CancellationToken stop, TimeSpan drain)
    {
        var drainUntil = long.MaxValue;
        while (true)
        {
            if (stop.IsCancellationRequested && drainUntil == long.MaxValue) drainUntil = Stopwatch.GetTimestamp() + (long)(drain.TotalSeconds * Stopwatch.Frequency);
            while (_accepted.TryDequeue(out var a))
            {
                _sampled.Add(a.At);
                foreach (var s in _steps) s.Outstanding[a.Id] = a.At;
            }
            foreach (var s in _steps)
            {
                var now = Stopwatch.GetTimestamp();
                var offsetTicks = (long)(s.Offset.TotalSeconds * Stopwatch.Frequency);
                var due = s.Outstanding.Where(o => o.Value + offsetTicks <= now).Select(o => o.Key).Take(5000).ToList();
                if (due.Count == 0) continue;
                HashSet<Guid> seen;
                try { seen = await s.Seen(due); }
                catch (Exception e) when (e is NpgsqlException or RedisException) { continue; } // a table not migrated yet
                var at = Stopwatch.GetTimestamp();
                foreach (var id in seen)
                {
                    var acceptedAt = s.Outstanding[id];
                    s.Outstanding.Remove(id);
                    s.Lags.Add((acceptedAt, Math.Max(0, Stopwatch.GetElapsedTime(acceptedAt, at).TotalMilliseconds - s.Offset.TotalMilliseconds)));
                    s.LastSeenAt = at;
                }
            }
            if (stop.IsCancellationRequested && (_steps.All(s => s.Outstanding.Count == 0) && _accepted.IsEmpty || Stopwatch.GetTimestamp() > drainUntil)) return;
            await Task.Delay(PollInterval, CancellationToken.None);
        }
    }

    public sealed record StepReport(string Step, int Seen, int Missing, double P50Ms, double P99Ms, double MaxMs, double FirstThirdP99Ms, double LastThirdP99Ms,
        double CaughtUpAfterEndSeconds, double RatePerSecond);

    /// <summary>Per step: lag percentiles, p99 over the first and the last third of the run (growth), when it caught up, its rate.</summary>
    public IReadOnlyList<StepReport> Report()
    {
        var first = Interlocked.Read(ref _firstAt);
        var last = Volatile.Read(ref _lastAt);
        var third = (last - first) / 3;
        return [.. _steps.Select(s =>
        {
            var lags = s.Lags.Select(l => l.LagMs).Order().ToList();
            var early = s.Lags.Where(l => l.AcceptedAt < first + third).Select(l => l.LagMs).Order().ToList();
            var late = s.Lags.Where(l => l.AcceptedAt >= last - third).Select(l => l.LagMs).Order().ToList();
            var caughtUp = s.Outstanding.Count == 0 && s.LastSeenAt > 0 ? Stopwatch.GetElapsedTime(last, s.LastSeenAt).TotalSeconds - s.Offset.TotalSeconds : double.NaN;
            var window = Stopwatch.GetElapsedTime(first, s.LastSeenAt).TotalSeconds - s.Offset.TotalSeconds;
            return new StepReport(s.Name, lags.Count, s.Outstanding.Count, Percentile(lags, 50), Percentile(lags, 99), lags.Count > 0 ? lags[^1] : double.NaN,
                Percentile(early, 99), Percentile(late, 99), caughtUp, s.Outstanding.Count == 0 && window > 0 ? Accepted / window : double.NaN);
        })];
    }

    static double Percentile(List<double> sorted, double p) => sorted.Count == 0 ? double.NaN : sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(p / 100 * sorted.Count) - 1)];

    static Task<HashSet<Guid>> InboxAsync(NpgsqlDataSource db, string schema, string consumer, List<Guid> ids) =>
        QueryAsync(db, $"SELECT substr(message_id, length('order.reserved:') + 1)::uuid FROM {schema}.inbox WHERE consumer = @consumer AND message_id = ANY(@ids)",
            [.. ids], consumer, prefix: "order.reserved:");

    static async Task<HashSet<Guid>> QueryAsync(NpgsqlDataSource db, string sql, List<Guid> ids, string? consumer, string? prefix = null)
    {
        await using var cmd = db.CreateCommand(sql);
        if (prefix is null) cmd.Parameters.AddWithValue("ids", ids.ToArray());
        else cmd.Parameters.AddWithValue("ids", ids.Select(i => prefix + i).ToArray());
        if (consumer is not null) cmd.Parameters.AddWithValue("consumer", consumer);
        var seen = new HashSet<Guid>();
        await using var reader = await cmd.ExecuteReaderAsync();
        while (await reader.ReadAsync()) seen.Add(reader.GetGuid(0));
        return seen;
    }
}
