using RabbitMQ.Client.Exceptions;

namespace FlashSale.Orders.Relay;

/// <summary>
/// Publishes the PostgreSQL outbox (events written in the same transaction as their state change: the PostgreSQL gates'
/// order.reserved, payment's order.paid, expiry's order.expired). Rows stay unpublished until the broker confirmed them,
/// so anything lost to a crash or a broker outage is republished; consumers dedupe by event id.
/// </summary>
public sealed class OutboxPublisher(NpgsqlDataSource db, IEventPublisher publisher, IOptions<OrdersOptions> options, OrdersMetrics metrics,
    ILogger<OutboxPublisher> logger) : BackgroundService
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
                var delay = Backoff.After(failures);
                logger.LogWarning(e, "Outbox publishing failed ({Failures} in a row); retrying in {Delay}", failures, delay);
                try { await Task.Delay(delay, stoppingToken); } catch (OperationCanceledException) { break; }
            }
        }
    }

    /// <summary>
    /// Publishes up to <paramref name="batchSize"/> of this namespace's unpublished events, exchange by exchange. Confirmed
    /// events are marked published; events whose exchange does not exist are parked (with the broker's answer) so that they
    /// stop blocking the queue; anything else stays for the next attempt and the call throws after committing the rest.
    /// </summary>
    public async Task<int> PublishBatchAsync(int batchSize, CancellationToken ct)
    {
        await using var c = await db.OpenConnectionAsync(ct);
        await using var tx = await c.BeginTransactionAsync(ct);
        var rows = new List<(string Id, string Exchange, string RoutingKey, byte[] Payload)>();
        // Only this namespace's events: another namespace's sales are another deployment's to publish (or gone).
        await using (var select = new NpgsqlCommand("""
            SELECT event_id, exchange, routing_key, payload FROM orders.outbox
            WHERE published_at IS NULL AND parked_at IS NULL AND starts_with(exchange, @prefix)
            ORDER BY created_at LIMIT @n FOR UPDATE SKIP LOCKED
            """, c, tx))
        {
            select.Parameters.AddWithValue("prefix", SaleTopology.NamespacePrefix(options.Value.Namespace));
            select.Parameters.AddWithValue("n", batchSize);
            await using var reader = await select.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct)) rows.Add((reader.GetString(0), reader.GetString(1), reader.GetString(2), (byte[])reader[3]));
        }
        if (rows.Count == 0) return 0;
        var published = new List<string>(rows.Count);
        var parked = new List<(string Exchange, int Count)>();
        EventPublishException? retry = null;
        // One pack per exchange and event type: an expiry wave is as many events as the burst had orders.
        foreach (var group in rows.GroupBy(r => (r.Exchange, r.RoutingKey)))
        {
            var ids = group.Select(r => r.Id).ToList();
            try
            {
                await publisher.PublishPackAsync(group.Key.Exchange, group.Key.RoutingKey, [.. group.Select(r => new OutgoingEvent(r.Id, r.RoutingKey, r.Payload))], ct);
                published.AddRange(ids);
            }
            catch (EventPublishException e) when (MissingExchange(e) is { } answer)
            {
                logger.LogError("Parking {Count} outbox event(s) for {Exchange}: the exchange does not exist ({Answer}); they are kept in orders.outbox",
                    ids.Count, group.Key.Exchange, answer);
                await using var park = new NpgsqlCommand("UPDATE orders.outbox SET parked_at = now(), last_error = @error WHERE event_id = ANY(@ids)", c, tx);
                park.Parameters.AddWithValue("error", answer);
                park.Parameters.AddWithValue("ids", ids.ToArray());
                await park.ExecuteNonQueryAsync(ct);
                parked.Add((group.Key.Exchange, ids.Count));
            }
            catch (EventPublishException e)
            {
                retry ??= e;
                published.AddRange(ids.Except(e.FailedMessageIds)); // confirmed before the failure
            }
        }
        if (published.Count > 0)
        {
            await using var update = new NpgsqlCommand("UPDATE orders.outbox SET published_at = now() WHERE event_id = ANY(@ids)", c, tx);
            update.Parameters.AddWithValue("ids", published.ToArray());
            await update.ExecuteNonQueryAsync(ct);
        }
        await tx.CommitAsync(ct);
        foreach (var (exchange, count) in parked) metrics.OutboxParked(exchange, count);
        if (retry is not null) throw retry;
        return rows.Count;
    }

    /// <summary>The broker's answer when the publish failed because the exchange does not exist (channel closed with 404).</summary>
    static string? MissingExchange(EventPublishException e)
    {
        for (Exception? x = e.InnerException; x is not null; x = x.InnerException)
        {
            if (x is OperationInterruptedException { ShutdownReason: { ReplyCode: 404 } reason }) return reason.ReplyText;
            if (x.Message.Contains("NOT_FOUND - no exchange", StringComparison.Ordinal)) return x.Message;
        }
        return null;
    }
}
