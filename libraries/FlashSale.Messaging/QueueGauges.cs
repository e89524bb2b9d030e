using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace FlashSale.Messaging;

/// <summary>
/// flashsale_messaging_queue_messages and flashsale_messaging_dead_letters of every queue this process consumes (its
/// <c>AddEventConsumer</c> registrations, named by the configured sale's topology): the ready messages of the queue and of
/// its <c>.dlq</c>, read by passive declares every <see cref="Interval"/> in the background so that a scrape reads memory.
/// Without an <see cref="IMeterFactory"/> in DI (no metrics) it does nothing.
/// </summary>
sealed class QueueGauges(IRabbitMqConnection rabbit, IEnumerable<ConsumedQueue> consumed, IServiceProvider services, ILogger<QueueGauges> logger)
    : BackgroundService
{
    public const string MeterName = "FlashSale.Messaging";
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(5);
    volatile IReadOnlyList<(string Queue, uint Messages, uint DeadLetters)> _depths = [];

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (services.GetService<IMeterFactory>() is not { } meters) return;
        await Task.Yield();
        var queues = consumed.Select(q => q.Resolve(services)).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray();
        if (queues.Length == 0) return;
        var meter = meters.Create(MeterName);
        meter.CreateObservableGauge("flashsale.messaging.queue.messages",
            () => _depths.Select(d => new Measurement<long>(d.Messages, new KeyValuePair<string, object?>("queue", d.Queue))),
            description: "Messages ready in a consumed queue, not yet delivered to a consumer (sampled every few seconds)");
        meter.CreateObservableGauge("flashsale.messaging.dead_letters",
            () => _depths.Select(d => new Measurement<long>(d.DeadLetters, new KeyValuePair<string, object?>("queue", d.Queue))),
            description: "Messages in the dead-letter queue (<queue>.dlq) of a consumed queue: events its consumer refused (sampled every few seconds)");

        IChannel? channel = null;
        using var timer = new PeriodicTimer(Interval);
        try
        {
            do
            {
                try
                {
                    if (channel is not { IsOpen: true })
                    {
                        if (channel is not null) await channel.DisposeAsync();
                        channel = null;
                        channel = await (await rabbit.GetConnectionAsync(stoppingToken)).CreateChannelAsync(cancellationToken: stoppingToken);
                    }
                    var depths = new List<(string, uint, uint)>(queues.Length);
                    foreach (var queue in queues)
                    {
                        var work = await channel.QueueDeclarePassiveAsync(queue, stoppingToken);
                        var dead = await channel.QueueDeclarePassiveAsync(SaleTopology.DeadLetterQueueOf(queue), stoppingToken);
                        depths.Add((queue, work.MessageCount, dead.MessageCount));
                    }
                    _depths = depths;
                }
                catch (Exception e) when (!stoppingToken.IsCancellationRequested)
                {
                    // A missing queue closes the channel (404); the next round opens another. The last sample stays meanwhile.
                    logger.LogDebug(e, "Could not sample the depth of the consumed queues; keeping the last sample");
                }
            }
            while (await timer.WaitForNextTickAsync(stoppingToken));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested) { }
        finally
        {
            if (channel is not null)
            {
                try { await channel.DisposeAsync(); } catch (Exception) { /* the connection is gone */ }
            }
        }
    }
}
