namespace FlashSale.Orders.Expiry;

/// <summary>
/// The backstop of the expiry queue: at every interval, expires the namespace's due orders and finishes unrecorded releases,
/// so that a lost or late message never keeps stock locked. Safe in every replica (SKIP LOCKED, idempotent release).
/// </summary>
public sealed class ExpirySweeper(OrderExpirer expirer, IOptions<OrdersOptions> options, ILogger<ExpirySweeper> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var o = options.Value.Expiry;
        if (!o.Enabled) return;
        await Task.Yield();
        using var timer = new PeriodicTimer(o.SweepInterval > TimeSpan.Zero ? o.SweepInterval : TimeSpan.FromSeconds(5));
        do
        {
            try
            {
                var released = await expirer.ReleasePendingAsync(null, stoppingToken);
                if (released > 0) logger.LogWarning("Sweep finished the release of {Count} expired orders", released);
                while (await expirer.ExpireDueAsync(null, stoppingToken) >= o.BatchSize && !stoppingToken.IsCancellationRequested) { }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested) { break; }
            catch (Exception e)
            {
                logger.LogWarning(e, "Expiry sweep failed; retrying at the next interval");
            }
        }
        while (await WaitAsync(timer, stoppingToken));
    }

    static async Task<bool> WaitAsync(PeriodicTimer timer, CancellationToken ct)
    {
        try { return await timer.WaitForNextTickAsync(ct); }
        catch (OperationCanceledException) { return false; }
    }
}
