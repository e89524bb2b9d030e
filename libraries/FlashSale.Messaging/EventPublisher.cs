using System.Collections.Concurrent;
using RabbitMQ.Client.Exceptions;

namespace FlashSale.Messaging;

/// <summary>
/// Publishes events with publisher confirms. A call returns only when the broker confirmed every event, each routed to at
/// least one queue (<c>mandatory</c>); otherwise it throws <see cref="EventPublishException"/> and the caller publishes
/// again (consumers dedupe by <see cref="OutgoingEvent.MessageId"/>).
/// </summary>
public interface IEventPublisher
{
    Task PublishAsync(string exchange, string routingKey, OutgoingEvent e, CancellationToken cancellationToken = default);

    Task PublishBatchAsync(string exchange, IReadOnlyList<(string RoutingKey, OutgoingEvent Event)> events, CancellationToken cancellationToken = default);

    /// <summary>
    /// Publishes <paramref name="events"/> as one message (an <see cref="EventPack"/>): one enqueue and one confirm per queue
    /// for the whole batch. Consumers unpack it and dedupe each event by its own id, so a batch republished with another
    /// composition is applied once per event.
    /// </summary>
    Task PublishPackAsync(string exchange, string routingKey, IReadOnlyList<OutgoingEvent> events, CancellationToken cancellationToken = default);
}

/// <summary>Some events of a publish were not confirmed: nacked, returned as unroutable, timed out, or the channel died.</summary>
public sealed class EventPublishException(string message, IReadOnlyList<string> failedMessageIds, Exception? inner)
    : Exception(message, inner)
{
    /// <summary>Ids of the events that were not confirmed (the others were; publishing them again is harmless).</summary>
    public IReadOnlyList<string> FailedMessageIds { get; } = failedMessageIds;
}

public sealed class RabbitMqEventPublisher : IEventPublisher, IAsyncDisposable
{
    // No client-side rate limiter: its default (128 outstanding, throttled from 64) sleeps inside large batches; a batch bounds itself.
    static readonly CreateChannelOptions ConfirmedChannel = new(
        publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true, outstandingPublisherConfirmationsRateLimiter: null);

    readonly IRabbitMqConnection _connection;
    readonly RabbitMqOptions _options;
    readonly ILogger<RabbitMqEventPublisher> _logger;
    readonly ConcurrentQueue<PooledChannel> _idle = new();
    readonly SemaphoreSlim _slots;

    public RabbitMqEventPublisher(IRabbitMqConnection connection, IOptions<RabbitMqOptions> options, ILogger<RabbitMqEventPublisher> logger)
    {
        _connection = connection;
        _options = options.Value;
        _logger = logger;
        _slots = new SemaphoreSlim(Math.Max(1, _options.PublisherChannels));
    }

    public Task PublishAsync(string exchange, string routingKey, OutgoingEvent e, CancellationToken cancellationToken = default) =>
        PublishBatchAsync(exchange, [(routingKey, e)], cancellationToken);

    public async Task PublishPackAsync(string exchange, string routingKey, IReadOnlyList<OutgoingEvent> events, CancellationToken cancellationToken = default)
    {
        if (events.Count == 0) return;
        try
        {
            await PublishBatchAsync(exchange, [(routingKey, EventPack.Pack(routingKey, events))], cancellationToken);
        }
        catch (EventPublishException e)
        {
            throw new EventPublishException(e.Message, [.. events.Select(x => x.MessageId)], e.InnerException);
        }
    }

    public async Task PublishBatchAsync(string exchange, IReadOnlyList<(string RoutingKey, OutgoingEvent Event)> events, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(exchange);
        if (events.Count == 0) return;

        await _slots.WaitAsync(cancellationToken);
        PooledChannel? pooled = null;
        var reusable = false;
        try
        {
            try
            {
                pooled = await RentAsync(cancellationToken);
            }
            catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                throw new EventPublishException($"Cannot publish {events.Count} event(s) to {exchange}: no channel ({e.Message})",
                    [.. events.Select(x => x.Event.MessageId)], e);
            }

            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(_options.PublishTimeout);

            // Start every publish, then await the confirms together: one round trip per batch, not per event.
            var pending = new ValueTask[events.Count];
            for (var i = 0; i < events.Count; i++)
            {
                var (routingKey, e) = events[i];
                pending[i] = pooled.Channel.BasicPublishAsync(exchange, routingKey, mandatory: true, Properties(e), e.Body, timeout.Token);
            }

            List<string>? failed = null;
            Exception? first = null;
            for (var i = 0; i < pending.Length; i++)
            {
                try
                {
                    await pending[i];
                }
                catch (Exception e)
                {
                    (failed ??= []).Add(events[i].Event.MessageId);
                    first ??= e;
                }
            }

            if (first is null)
            {
                reusable = true;
                return;
            }
            cancellationToken.ThrowIfCancellationRequested();
            var reason = first switch
            {
                PublishException { IsReturn: true } => "unroutable (no queue bound for the routing key)",
                PublishException => "nacked by the broker",
                OperationCanceledException => $"not confirmed within {_options.PublishTimeout}",
                AlreadyClosedException c => $"channel closed: {c.ShutdownReason?.ReplyText ?? c.Message}",
                _ => first.Message,
            };
            _logger.LogWarning("Publishing to {Exchange} failed for {Failed} of {Count} event(s): {Reason}", exchange, failed!.Count, events.Count, reason);
            throw new EventPublishException($"{failed.Count} of {events.Count} event(s) to {exchange} not confirmed: {reason}", failed, first);
        }
        finally
        {
            if (pooled is not null) await ReturnAsync(pooled, reusable);
            _slots.Release();
        }
    }

    static BasicProperties Properties(OutgoingEvent e)
    {
        var props = new BasicProperties
        {
            MessageId = e.MessageId,
            Type = e.Type,
            ContentType = e.Headers?.ContainsKey(EventPack.CountHeader) == true ? EventPack.ContentType : "application/json",
            DeliveryMode = DeliveryModes.Persistent,
            Timestamp = new AmqpTimestamp(DateTimeOffset.UtcNow.ToUnixTimeSeconds()),
        };
        // A fresh dictionary per message: the client adds its sequence-number header to it.
        if (e.Headers is { Count: > 0 } headers) props.Headers = new Dictionary<string, object?>(headers);
        return props;
    }

    async Task<PooledChannel> RentAsync(CancellationToken cancellationToken)
    {
        while (_idle.TryDequeue(out var idle))
        {
            if (idle.IsUsable) return idle;
            await idle.DisposeAsync();
        }
        var connection = await _connection.GetConnectionAsync(cancellationToken);
        var channel = await connection.CreateChannelAsync(ConfirmedChannel, cancellationToken);
        return new PooledChannel(channel);
    }

    async ValueTask ReturnAsync(PooledChannel pooled, bool reusable)
    {
        // A channel that saw a failure may still get late confirms for it: never reuse it.
        if (reusable && pooled.IsUsable) _idle.Enqueue(pooled);
        else await pooled.DisposeAsync();
    }

    public async ValueTask DisposeAsync()
    {
        while (_idle.TryDequeue(out var idle)) await idle.DisposeAsync();
    }

    sealed class PooledChannel : IAsyncDisposable
    {
        volatile bool _shutdown;

        public PooledChannel(IChannel channel)
        {
            Channel = channel;
            // Even if the library recovers this channel, its confirm bookkeeping restarted: discard it.
            channel.ChannelShutdownAsync += (_, _) => { _shutdown = true; return Task.CompletedTask; };
        }

        public IChannel Channel { get; }
        public bool IsUsable => !_shutdown && Channel.IsOpen;

        public async ValueTask DisposeAsync()
        {
            try
            {
                if (Channel.IsOpen) await Channel.CloseAsync();
            }
            catch (Exception) { /* closing a broken channel */ }
            try { await Channel.DisposeAsync(); } catch (Exception) { /* already closed */ }
        }
    }
}
