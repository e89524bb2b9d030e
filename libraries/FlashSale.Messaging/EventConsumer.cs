using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Npgsql;
using RabbitMQ.Client.Events;

namespace FlashSale.Messaging;

/// <summary>
/// Applies the events of one delivery (one event, or the events of an <see cref="EventPack"/> not applied before) inside
/// the consumer's PostgreSQL transaction. The host has already recorded them in the inbox on <paramref name="transaction"/>;
/// it commits after this returns and only then acks. Throwing rolls everything back and the delivery comes again (up to
/// <see cref="EventConsumerOptions.MaxAttempts"/>, then dead-lettered whole).
/// </summary>
public interface IEventHandler
{
    Task HandleAsync(IReadOnlyList<IncomingEvent> events, NpgsqlConnection connection, NpgsqlTransaction transaction, CancellationToken cancellationToken);
}

/// <summary>Per-consumer settings; bound from <c>RabbitMq:Consumers:&lt;HandlerTypeName&gt;</c>, then the registration's callback.</summary>
public sealed class EventConsumerOptions
{
    /// <summary>Inbox key of this consumer (defaults to the handler type's name); keep it stable across releases.</summary>
    public string ConsumerName { get; set; } = "";

    /// <summary>Schema of the inbox table, which the service's migrations create (<see cref="Inbox.MigrationSql"/>).</summary>
    public string Schema { get; set; } = "public";

    /// <summary>Unacknowledged deliveries the broker sends ahead (basic.qos).</summary>
    public ushort Prefetch { get; set; } = 32;

    /// <summary>Deliveries handled at the same time (1 keeps the queue's order, apart from retries).</summary>
    public ushort Concurrency { get; set; } = 1;

    /// <summary>Deliveries of one event, the first included, before it is dead-lettered.</summary>
    public int MaxAttempts { get; set; } = 5;

    /// <summary>Pause before a failed event goes back to the queue: <c>RetryDelay × attempt</c>; other events keep flowing meanwhile.</summary>
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromMilliseconds(500);
}

/// <summary>Consumes one queue for <typeparamref name="THandler"/>: inbox dedupe, handler, commit, then ack; bounded retries, then the DLQ.</summary>
sealed class EventConsumerHost<THandler>(
    EventConsumerOptions options,
    string queue,
    IServiceProvider services,
    IRabbitMqConnection rabbit,
    NpgsqlDataSource dataSource,
    ILogger<EventConsumerHost<THandler>> logger) : BackgroundService
    where THandler : class, IEventHandler
{
    readonly IServiceScopeFactory _scopes = services.GetRequiredService<IServiceScopeFactory>();
    string _queue = "";

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await Task.Yield(); // never hold up application start
        _queue = queue;
        var failures = 0;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                if (await ConsumeUntilInterruptedAsync(stoppingToken)) failures = 0;
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                logger.LogWarning("Consumer {Consumer} cannot consume {Queue}: {Reason}; retrying", options.ConsumerName, _queue, e.Message);
            }
            try { await PauseAsync(Backoff.After(++failures), stoppingToken); } catch (OperationCanceledException) { return; }
        }
    }

    /// <summary>Waits <paramref name="backoff"/>, or less when the connection comes back meanwhile.</summary>
    async Task PauseAsync(TimeSpan backoff, CancellationToken stoppingToken)
    {
        var wasConnected = rabbit.IsConnected;
        var until = DateTime.UtcNow + backoff;
        while (DateTime.UtcNow < until)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(200), stoppingToken);
            if (!wasConnected && rabbit.IsConnected) return;
        }
    }

    /// <summary>Consumes on a fresh channel until it closes or the host stops; true when consuming had started.</summary>
    async Task<bool> ConsumeUntilInterruptedAsync(CancellationToken stoppingToken)
    {
        var connection = await rabbit.GetConnectionAsync(stoppingToken);
        var channel = await connection.CreateChannelAsync(
            new CreateChannelOptions(false, false, consumerDispatchConcurrency: Math.Max((ushort)1, options.Concurrency)), stoppingToken);
        using var consuming = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        var ended = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        channel.ChannelShutdownAsync += (_, a) => { ended.TrySetResult($"channel closed ({a.ReplyCode} {a.ReplyText})"); return Task.CompletedTask; };
        try
        {
            await channel.BasicQosAsync(0, options.Prefetch, global: false, stoppingToken);
            var consumer = new AsyncEventingBasicConsumer(channel);
            consumer.ReceivedAsync += (_, delivery) => HandleDeliveryAsync(channel, delivery, consuming.Token);
            consumer.UnregisteredAsync += (_, _) => { ended.TrySetResult("consumer cancelled by the broker"); return Task.CompletedTask; };
            await channel.BasicConsumeAsync(_queue, autoAck: false, consumer, stoppingToken);
            logger.LogInformation("Consumer {Consumer} consuming {Queue}", options.ConsumerName, _queue);

            await using (stoppingToken.Register(() => ended.TrySetResult("stopping")))
            {
                var reason = await ended.Task;
                if (!stoppingToken.IsCancellationRequested)
                    logger.LogWarning("Consumer {Consumer} stopped consuming {Queue}: {Reason}; resubscribing", options.ConsumerName, _queue, reason);
            }
            return true;
        }
        finally
        {
            // Unacked deliveries go back to the queue when the channel closes; their handlers are cancelled.
            await consuming.CancelAsync();
            try { if (channel.IsOpen) await channel.CloseAsync(CancellationToken.None); } catch (Exception) { /* already closed */ }
            try { await channel.DisposeAsync(); } catch (Exception) { /* already closed */ }
        }
    }

    async Task HandleDeliveryAsync(IChannel channel, BasicDeliverEventArgs delivery, CancellationToken consuming)
    {
        var tag = delivery.DeliveryTag;
        var props = delivery.BasicProperties;
        if (PoisonReason(props, delivery.Body.Span) is { } poison)
        {
            logger.LogError("Dead-lettering poison message {MessageId} from {Queue}: {Reason}", props.MessageId, _queue, poison);
            await SettleAsync(channel.BasicNackAsync(tag, multiple: false, requeue: false, CancellationToken.None), tag);
            return;
        }
        var headers = ReadHeaders(props.Headers);
        var attempt = DeliveryCount(props.Headers) + 1;
        List<IncomingEvent> events;
        try
        {
            events = props.ContentType == EventPack.ContentType
                ? [.. EventPack.Unpack(delivery.Body.Span).Select(x => new IncomingEvent(x.Id, x.Type ?? props.Type, delivery.Exchange, delivery.RoutingKey, x.Body, headers, attempt))]
                : [new IncomingEvent(props.MessageId!, props.Type, delivery.Exchange, delivery.RoutingKey, delivery.Body.ToArray(), headers, attempt)];
        }
        catch (JsonException ex)
        {
            logger.LogError("Dead-lettering poison message {MessageId} from {Queue}: not an event pack ({Reason})", props.MessageId, _queue, ex.Message);
            await SettleAsync(channel.BasicNackAsync(tag, multiple: false, requeue: false, CancellationToken.None), tag);
            return;
        }
        var first = events.Count > 0 ? events[0] : new IncomingEvent(props.MessageId!, props.Type, delivery.Exchange, delivery.RoutingKey, default, headers, attempt);

        NpgsqlConnection? connection = null;
        NpgsqlTransaction? transaction = null;
        try
        {
            IReadOnlySet<string> fresh;
            (connection, transaction, fresh) = await BeginAsync(events, consuming);
            if (fresh.Count > 0)
            {
                await using var scope = _scopes.CreateAsyncScope();
                IReadOnlyList<IncomingEvent> toApply = fresh.Count == events.Count ? events : [.. events.Where(x => fresh.Contains(x.MessageId))];
                await scope.ServiceProvider.GetRequiredService<THandler>().HandleAsync(toApply, connection, transaction, consuming);
            }
            if (fresh.Count < events.Count)
            {
                logger.LogInformation("Consumer {Consumer} skipped {Duplicates} duplicate event(s) of {MessageId} ({Type})",
                    options.ConsumerName, events.Count - fresh.Count, props.MessageId, props.Type);
            }
            await transaction.CommitAsync(consuming);
        }
        catch (Exception) when (consuming.IsCancellationRequested)
        {
            return; // stopping or the channel died: the broker delivers it again
        }
        catch (Exception ex)
        {
            if (transaction is not null) await RollbackQuietlyAsync(transaction);
            await FailAsync(channel, tag, first with { MessageId = props.MessageId! }, ex, consuming);
            return;
        }
        finally
        {
            if (transaction is not null) await transaction.DisposeAsync();
            if (connection is not null) await connection.DisposeAsync();
        }
        await SettleAsync(channel.BasicAckAsync(tag, multiple: false, CancellationToken.None), tag);
    }

    /// <summary>Opens the transaction and records the events in the inbox; database outages are waited out, not counted as attempts.</summary>
    async Task<(NpgsqlConnection, NpgsqlTransaction, IReadOnlySet<string> Fresh)> BeginAsync(List<IncomingEvent> events, CancellationToken consuming)
    {
        var ids = events.Select(e => e.MessageId).ToArray();
        for (var failures = 1; ; failures++)
        {
            NpgsqlConnection? connection = null;
            try
            {
                connection = await dataSource.OpenConnectionAsync(consuming);
                var transaction = await connection.BeginTransactionAsync(consuming);
                var fresh = await Inbox.RecordAsync(connection, transaction, options.Schema, options.ConsumerName, ids, consuming);
                return (connection, transaction, fresh);
            }
            catch (Exception ex) when (!consuming.IsCancellationRequested)
            {
                if (connection is not null) await connection.DisposeAsync();
                var delay = Backoff.After(failures);
                logger.LogWarning("Inbox of {Consumer} unavailable ({Reason}); retrying {Count} event(s) in {Delay}", options.ConsumerName, ex.Message, ids.Length, delay);
                await Task.Delay(delay, consuming);
            }
        }
    }

    async Task FailAsync(IChannel channel, ulong tag, IncomingEvent e, Exception ex, CancellationToken consuming)
    {
        if (e.Attempt >= options.MaxAttempts)
        {
            logger.LogError(ex, "Consumer {Consumer} failed on {MessageId} ({Type}) at attempt {Attempt} of {MaxAttempts}; dead-lettering it",
                options.ConsumerName, e.MessageId, e.Type, e.Attempt, options.MaxAttempts);
            await SettleAsync(channel.BasicNackAsync(tag, multiple: false, requeue: false, CancellationToken.None), tag);
            return;
        }
        var delay = options.RetryDelay * e.Attempt;
        logger.LogWarning(ex, "Consumer {Consumer} failed on {MessageId} ({Type}) at attempt {Attempt} of {MaxAttempts}; requeueing in {Delay}",
            options.ConsumerName, e.MessageId, e.Type, e.Attempt, options.MaxAttempts, delay);
        // Held (unacked) during the pause without blocking the dispatcher: the other deliveries keep being handled.
        _ = RequeueLaterAsync(channel, tag, delay, consuming);
    }

    async Task RequeueLaterAsync(IChannel channel, ulong tag, TimeSpan delay, CancellationToken consuming)
    {
        try
        {
            await Task.Delay(delay, consuming);
            await SettleAsync(channel.BasicNackAsync(tag, multiple: false, requeue: true, CancellationToken.None), tag);
        }
        catch (OperationCanceledException) { /* the channel closes and the broker requeues it */ }
    }

    async Task SettleAsync(ValueTask settle, ulong tag)
    {
        try
        {
            await settle;
        }
        catch (Exception ex)
        {
            // The channel died: the broker redelivers and the inbox recognises what was already applied.
            logger.LogDebug("Consumer {Consumer} could not settle delivery {DeliveryTag} on {Queue}: {Reason}", options.ConsumerName, tag, _queue, ex.Message);
        }
    }

    static async Task RollbackQuietlyAsync(NpgsqlTransaction transaction)
    {
        try { await transaction.RollbackAsync(CancellationToken.None); } catch (Exception) { /* connection broken: the server rolls back */ }
    }

    static string? PoisonReason(IReadOnlyBasicProperties props, ReadOnlySpan<byte> body)
    {
        if (string.IsNullOrEmpty(props.MessageId)) return "no message id";
        if (props.ContentType is { } type && !type.Contains("json", StringComparison.OrdinalIgnoreCase)) return null;
        if (body.IsEmpty) return "empty body";
        try
        {
            var reader = new Utf8JsonReader(body);
            while (reader.Read()) { }
            return null;
        }
        catch (JsonException ex)
        {
            return $"body is not JSON ({ex.Message})";
        }
    }

    static int DeliveryCount(IDictionary<string, object?>? headers) =>
        headers is not null && headers.TryGetValue("x-delivery-count", out var v) && v is not null
            ? (int)Math.Min(int.MaxValue - 1, Convert.ToInt64(v, System.Globalization.CultureInfo.InvariantCulture))
            : 0;

    static IReadOnlyDictionary<string, object?> ReadHeaders(IDictionary<string, object?>? headers)
    {
        if (headers is null || headers.Count == 0) return new Dictionary<string, object?>();
        var result = new Dictionary<string, object?>(headers.Count);
        foreach (var (k, v) in headers) result[k] = v is byte[] b ? Encoding.UTF8.GetString(b) : v;
        return result;
    }
}
