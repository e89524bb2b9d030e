using FlashSale.Messaging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace FlashSale.Orders.Relay;

/// <summary>
/// Publishes the PostgreSQL outbox (events written in the same transaction as their state change: the PostgreSQL gates'
/// order.reserved, payment's order.paid, expiry's order.expired). Rows stay unpublished until the broker confirmed them,
/// so anything lost to a crash or a broker outage is republished; consumers dedupe by event id.
/// </summary>
public sealed class OutboxPublisher(NpgsqlDataSource db, IEventPublisher publisher, IOptions<OrdersOptions> options, ILogger<OutboxPublisher> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!options.Value.Relay.Enabled || !options.Value.Relay.Publish) return;
        await Task.Yield();
        var failures = 0;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var published = await PublishBatchAsync(options.Value.Relay.BatchSize, stoppingToken);
                failures = 0;
                if (published == 0) await Task.Delay(options.Value.Relay.IdleDelay, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested) { break; }
            catch (Exception e)
            {
                failures++;
                var delay = TimeSpan.FromMilliseconds(Math.Min(5000, 100 * Math.Pow(2, Math.Min(failures, 6))));
                logger.LogWarning(e, "Outbox publishing failed ({Failures} in a row); retrying in {Delay}", failures, delay);
                try { await Task.Delay(delay, stoppingToken); } catch (OperationCanceledException) { break; }
            }
        }
    }

    public async Task<int> PublishBatchAsync(int batchSize, CancellationToken ct)
    {
        await using var c = await db.OpenConnectionAsync(ct);
        await using var tx = await c.BeginTransactionAsync(ct);
        var rows = new List<(string Id, string Exchange, string RoutingKey, byte[] Payload)>();
        await using (var select = new NpgsqlCommand("""
            SELECT event_id, exchange, routing_key, payload FROM orders.outbox
            WHERE published_at IS NULL ORDER BY created_at LIMIT @n FOR UPDATE SKIP LOCKED
            """, c, tx))
        {
            select.Parameters.AddWithValue("n", batchSize);
            await using var reader = await select.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct)) rows.Add((reader.GetString(0), reader.GetString(1), reader.GetString(2), (byte[])reader[3]));
        }
        if (rows.Count == 0) return 0;
        foreach (var group in rows.GroupBy(r => r.Exchange))
            await publisher.PublishBatchAsync(group.Key, group.Select(r => (r.RoutingKey, new OutgoingEvent(r.Id, r.RoutingKey, r.Payload))).ToList(), ct);
        await using (var update = new NpgsqlCommand("UPDATE orders.outbox SET published_at = now() WHERE event_id = ANY(@ids)", c, tx))
        {
            update.Parameters.AddWithValue("ids", rows.Select(r => r.Id).ToArray());
            await update.ExecuteNonQueryAsync(ct);
        }
        await tx.CommitAsync(ct);
        return rows.Count;
    }
}
