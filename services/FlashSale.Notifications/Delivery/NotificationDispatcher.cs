namespace FlashSale.Notifications.Delivery;

/// <summary>
/// Delivers pending notifications: claims a batch (FOR UPDATE SKIP LOCKED, next_attempt_at pushed out by ClaimTimeout so a
/// dead replica's claim lapses), sends each, then records sent, or the error with a backoff. Transient failures (server down,
/// timeouts, 4xx) keep a notification pending for as long as they last; permanent refusals fail it after MaxAttempts.
/// </summary>
public sealed class NotificationDispatcher(NpgsqlDataSource db, INotificationSender sender, IOptions<NotificationsOptions> options,
    NotificationsMetrics metrics, ILogger<NotificationDispatcher> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await Task.Yield();
        while (!stoppingToken.IsCancellationRequested)
        {
            var handled = 0;
            try
            {
                handled = await DispatchBatchAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested) { break; }
            catch (Exception e)
            {
                logger.LogWarning(e, "Notification dispatch failed; retrying in {Delay}", options.Value.PollInterval);
            }
            if (handled == 0)
            {
                try { await Task.Delay(options.Value.PollInterval, stoppingToken); } catch (OperationCanceledException) { break; }
            }
        }
    }

    public async Task<int> DispatchBatchAsync(CancellationToken ct)
    {
        var o = options.Value;
        var batch = new List<(OutgoingNotification N, int Attempts)>();
        await using (var claim = db.CreateCommand("""
            UPDATE notifications.notifications n SET next_attempt_at = now() + @claim
            FROM (SELECT id FROM notifications.notifications WHERE status = 'pending' AND next_attempt_at <= now()
                  ORDER BY next_attempt_at LIMIT @n FOR UPDATE SKIP LOCKED) due
            WHERE n.id = due.id
            RETURNING n.id, n.recipient, n.template, n.subject, n.body, n.attempts
            """))
        {
            claim.Parameters.AddWithValue("claim", o.ClaimTimeout);
            claim.Parameters.AddWithValue("n", Math.Max(1, o.BatchSize));
            await using var reader = await claim.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
                batch.Add((new OutgoingNotification(reader.GetGuid(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetString(4)), reader.GetInt32(5)));
        }
        var sent = new List<(Guid Id, int Attempts)>(batch.Count);
        try
        {
            await SendBatchAsync(batch, sent, o, ct);
        }
        finally
        {
            // One statement for the batch's deliveries; a crash before it sends them again (delivery is at least once anyway).
            if (sent.Count > 0) await RecordSentAsync(sent);
        }
        return batch.Count;
    }

    async Task SendBatchAsync(List<(OutgoingNotification N, int Attempts)> batch, List<(Guid Id, int Attempts)> sent, NotificationsOptions o, CancellationToken ct)
    {
        foreach (var (n, attempts) in batch)
        {
            string? error = null;
            var permanent = false;
            try
            {
                await sender.SendAsync(n, ct);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested) { throw; }
            catch (PermanentDeliveryException e) { error = e.Message; permanent = true; }
            catch (Exception e) { error = e.Message; }

            var attempt = attempts + 1;
            if (error is null)
            {
                sent.Add((n.Id, attempt));
                metrics.Delivered(DeliveryOutcome.Sent);
                logger.LogInformation("Notification {NotificationId} ({Template}) sent to {Recipient}", n.Id, n.Template, n.Recipient);
                continue;
            }
            if (permanent && attempt >= o.MaxAttempts)
            {
                await RecordAsync(n.Id, "UPDATE notifications.notifications SET status = 'failed', attempts = @attempts, last_error = @error WHERE id = @id",
                    attempt, error, default, ct);
                metrics.Delivered(DeliveryOutcome.Failed);
                logger.LogError("Notification {NotificationId} ({Template}) failed for good after {Attempts} attempts: {Error}", n.Id, n.Template, attempt, error);
                continue;
            }
            var backoff = Backoff(attempt, o);
            await RecordAsync(n.Id, "UPDATE notifications.notifications SET attempts = @attempts, last_error = @error, next_attempt_at = now() + @backoff WHERE id = @id",
                attempt, error, backoff, ct);
            metrics.Delivered(DeliveryOutcome.Retry);
            logger.LogWarning("Notification {NotificationId} ({Template}) attempt {Attempt} failed: {Error}; retrying in {Backoff}", n.Id, n.Template, attempt, error, backoff);
        }
    }

    async Task RecordSentAsync(List<(Guid Id, int Attempts)> sent)
    {
        await using var cmd = db.CreateCommand("""
            UPDATE notifications.notifications n SET status = 'sent', attempts = s.attempts, sent_at = now(), last_error = NULL
            FROM unnest(@ids, @attempts) AS s(id, attempts) WHERE n.id = s.id
            """);
        cmd.Parameters.AddWithValue("ids", sent.Select(x => x.Id).ToArray());
        cmd.Parameters.AddWithValue("attempts", sent.Select(x => x.Attempts).ToArray());
        await cmd.ExecuteNonQueryAsync(CancellationToken.None);
    }

    static TimeSpan Backoff(int attempt, NotificationsOptions o)
    {
        var exponential = o.InitialBackoff.TotalMilliseconds * Math.Pow(2, Math.Min(attempt - 1, 20));
        var capped = Math.Min(exponential, o.MaxBackoff.TotalMilliseconds);
        return TimeSpan.FromMilliseconds(capped * (0.8 + 0.4 * Random.Shared.NextDouble()));
    }

    async Task RecordAsync(Guid id, string sql, int attempts, string? error, TimeSpan backoff, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand(sql);
        cmd.Parameters.AddWithValue("id", id);
        cmd.Parameters.AddWithValue("attempts", attempts);
        if (sql.Contains("@error")) cmd.Parameters.AddWithValue("error", (object?)error ?? DBNull.Value);
        if (sql.Contains("@backoff")) cmd.Parameters.AddWithValue("backoff", backoff);
        await cmd.ExecuteNonQueryAsync(ct);
    }
}
