using System.Text.RegularExpressions;
using RabbitMQ.Client.Exceptions;

namespace FlashSale.Messaging;

/// <summary>A sale's topology cannot be declared as asked (an existing entity has other arguments).</summary>
public sealed class TopologyConflictException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// RabbitMQ names and declarations of one sale:
/// topic exchange <c>flashsale.&lt;namespace&gt;.&lt;sale&gt;</c> (= <see cref="Prefix"/>) carrying order.reserved/paid/expired;
/// work queues <c>&lt;prefix&gt;.stock</c>, <c>.notifications</c> (all three keys), <c>.users</c> (order.expired: refunds of debited
/// orders that expired) and <c>.orders.expiry</c> (order.expiry-due),
/// each dead-lettering through the direct exchange <c>&lt;prefix&gt;.dlx</c> into <c>&lt;queue&gt;.dlq</c>;
/// <c>&lt;prefix&gt;.orders.expiry-wait</c> holds each order.reserved for the payment timeout (per-queue TTL), then
/// dead-letters it back through the sale exchange as order.expiry-due.
/// </summary>
public sealed partial class SaleTopology
{
    public SaleTopology(string @namespace, string sale)
    {
        Namespace = ValidName(@namespace, nameof(@namespace));
        Sale = ValidName(sale, nameof(sale));
        Prefix = $"flashsale.{Namespace}.{Sale}";
    }

    public string Namespace { get; }
    public string Sale { get; }
    public string Prefix { get; }

    /// <summary>What the exchange (and every queue) name of each sale of a namespace starts with.</summary>
    public static string NamespacePrefix(string @namespace) => $"flashsale.{@namespace}.";

    public string Exchange => Prefix;
    public string DeadLetterExchange => $"{Prefix}.dlx";
    public string StockQueue => $"{Prefix}.stock";
    public string NotificationsQueue => $"{Prefix}.notifications";
    public string UsersQueue => $"{Prefix}.users";
    public string ExpiryQueue => $"{Prefix}.orders.expiry";
    public string ExpiryWaitQueue => $"{Prefix}.orders.expiry-wait";

    /// <summary>Stands in for the wait queue while a changed payment timeout is applied (see <see cref="DeclareAsync"/>).</summary>
    public string ExpiryWaitBridgeQueue => $"{Prefix}.orders.expiry-wait.bridge";

    public static string DeadLetterQueueOf(string queue) => queue + ".dlq";

    /// <summary>Queues that consumers read: stock, notifications, users, orders.expiry.</summary>
    public IReadOnlyList<string> WorkQueues => [StockQueue, NotificationsQueue, UsersQueue, ExpiryQueue];

    public IReadOnlyList<string> Exchanges => [Exchange, DeadLetterExchange];

    public IReadOnlyList<string> Queues =>
        [.. WorkQueues, .. WorkQueues.Select(DeadLetterQueueOf), ExpiryWaitQueue];

    /// <summary>Bindings on the sale exchange.</summary>
    public IReadOnlyList<(string Queue, string RoutingKey)> Bindings =>
    [
        (StockQueue, EventRoutingKeys.OrderReserved), (StockQueue, EventRoutingKeys.OrderPaid), (StockQueue, EventRoutingKeys.OrderExpired),
        (NotificationsQueue, EventRoutingKeys.OrderReserved), (NotificationsQueue, EventRoutingKeys.OrderPaid), (NotificationsQueue, EventRoutingKeys.OrderExpired),
        (UsersQueue, EventRoutingKeys.OrderExpired),
        (ExpiryWaitQueue, EventRoutingKeys.OrderReserved),
        (ExpiryQueue, EventRoutingKeys.OrderExpiryDue),
    ];

    /// <summary>
    /// Declares (idempotently) the exchanges, queues and bindings. If the payment timeout changed, the wait queue (whose
    /// TTL cannot change in place) is replaced when it is empty, a bridge queue catching order.reserved meanwhile; when
    /// orders still wait in it, <see cref="TopologyConflictException"/> is thrown and nothing is lost (declare again once
    /// it has drained, i.e. after the previous payment timeout).
    /// </summary>
    public async Task DeclareAsync(IConnection connection, TimeSpan paymentTimeout, CancellationToken cancellationToken = default)
    {
        if (paymentTimeout < TimeSpan.FromMilliseconds(1) || paymentTimeout.TotalMilliseconds > int.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(paymentTimeout), paymentTimeout, "must be between 1 ms and ~24.8 days");
        var ttl = (long)paymentTimeout.TotalMilliseconds;

        await using var channels = new ChannelSource(connection);
        var channel = await channels.GetAsync(cancellationToken);
        await channel.ExchangeDeclareAsync(Exchange, ExchangeType.Topic, durable: true, autoDelete: false, cancellationToken: cancellationToken);
        await channel.ExchangeDeclareAsync(DeadLetterExchange, ExchangeType.Direct, durable: true, autoDelete: false, cancellationToken: cancellationToken);

        foreach (var queue in WorkQueues)
        {
            var dlq = DeadLetterQueueOf(queue);
            await DeclareQueueAsync(channels, dlq, QuorumArguments(), cancellationToken);
            await (await channels.GetAsync(cancellationToken)).QueueBindAsync(dlq, DeadLetterExchange, queue, cancellationToken: cancellationToken);
            await DeclareQueueAsync(channels, queue, DeadLetteringArguments(DeadLetterExchange, queue), cancellationToken);
        }

        var waitArguments = DeadLetteringArguments(Exchange, EventRoutingKeys.OrderExpiryDue);
        waitArguments["x-message-ttl"] = ttl;
        try
        {
            await DeclareQueueAsync(channels, ExpiryWaitQueue, waitArguments, cancellationToken);
        }
        catch (TopologyConflictException)
        {
            await ReplaceEmptyWaitQueueAsync(channels, waitArguments, paymentTimeout, cancellationToken);
        }

        channel = await channels.GetAsync(cancellationToken);
        foreach (var (queue, key) in Bindings)
            await channel.QueueBindAsync(queue, Exchange, key, cancellationToken: cancellationToken);
    }

    /// <summary>
    /// Gives the wait queue a new TTL without a moment in which order.reserved reaches no wait queue: the bridge queue
    /// (new TTL) is bound first, the old wait queue unbound, deleted only if empty, declared again and bound, then the
    /// bridge unbound. Events the bridge caught meanwhile still dead-letter after the new TTL (copies are deduped by the
    /// expiry consumer's inbox); the unbound bridge stays until <see cref="DeleteAsync"/>.
    /// </summary>
    async Task ReplaceEmptyWaitQueueAsync(ChannelSource channels, Dictionary<string, object?> arguments, TimeSpan paymentTimeout, CancellationToken cancellationToken)
    {
        var waiting = await MessageCountAsync(channels, ExpiryWaitQueue, cancellationToken);
        if (waiting > 0) throw WaitQueueBusy(ExpiryWaitQueue, waiting, paymentTimeout);

        try
        {
            await DeclareQueueAsync(channels, ExpiryWaitBridgeQueue, arguments, cancellationToken);
        }
        catch (TopologyConflictException)
        {
            // The bridge of an earlier change has another TTL; unbound, it can only shrink, so empty means safe to delete.
            var bridged = await MessageCountAsync(channels, ExpiryWaitBridgeQueue, cancellationToken);
            if (bridged > 0) throw WaitQueueBusy(ExpiryWaitBridgeQueue, bridged, paymentTimeout);
            await (await channels.GetAsync(cancellationToken)).QueueDeleteAsync(ExpiryWaitBridgeQueue, ifUnused: false, ifEmpty: false, cancellationToken: cancellationToken);
            await DeclareQueueAsync(channels, ExpiryWaitBridgeQueue, arguments, cancellationToken);
        }
        var channel = await channels.GetAsync(cancellationToken);
        await channel.QueueBindAsync(ExpiryWaitBridgeQueue, Exchange, EventRoutingKeys.OrderReserved, cancellationToken: cancellationToken);
        await channel.QueueUnbindAsync(ExpiryWaitQueue, Exchange, EventRoutingKeys.OrderReserved, cancellationToken: cancellationToken);

        waiting = await MessageCountAsync(channels, ExpiryWaitQueue, cancellationToken);
        if (waiting > 0)
        {
            // Orders arrived before the unbind: keep both bound (copies are deduped) and try again once the old TTL has passed.
            await (await channels.GetAsync(cancellationToken)).QueueBindAsync(ExpiryWaitQueue, Exchange, EventRoutingKeys.OrderReserved, cancellationToken: cancellationToken);
            throw WaitQueueBusy(ExpiryWaitQueue, waiting, paymentTimeout);
        }
        // Quorum queues refuse queue.delete with if-empty (and close the connection): the queue is unbound and empty instead.
        await (await channels.GetAsync(cancellationToken)).QueueDeleteAsync(ExpiryWaitQueue, ifUnused: false, ifEmpty: false, cancellationToken: cancellationToken);
        await DeclareQueueAsync(channels, ExpiryWaitQueue, arguments, cancellationToken);
        channel = await channels.GetAsync(cancellationToken);
        await channel.QueueBindAsync(ExpiryWaitQueue, Exchange, EventRoutingKeys.OrderReserved, cancellationToken: cancellationToken);
        await channel.QueueUnbindAsync(ExpiryWaitBridgeQueue, Exchange, EventRoutingKeys.OrderReserved, cancellationToken: cancellationToken);
    }

    TopologyConflictException WaitQueueBusy(string queue, uint waiting, TimeSpan paymentTimeout) => new(
        $"The payment timeout of sale {Namespace}/{Sale} cannot change to {paymentTimeout} while orders wait in {queue} " +
        $"({waiting} message(s)); declare again once it is empty (after the previous timeout).");

    static async Task<uint> MessageCountAsync(ChannelSource channels, string queue, CancellationToken cancellationToken) =>
        (await (await channels.GetAsync(cancellationToken)).QueueDeclarePassiveAsync(queue, cancellationToken)).MessageCount;

    /// <summary>Names of this sale's exchanges and queues that do not exist (passive declares); empty when all exist.</summary>
    public Task<IReadOnlyList<string>> FindMissingAsync(IConnection connection, CancellationToken cancellationToken = default) =>
        RabbitMqTopology.FindMissingAsync(connection, Exchanges, Queues, cancellationToken);

    public async Task<bool> ExistsAsync(IConnection connection, CancellationToken cancellationToken = default) =>
        (await FindMissingAsync(connection, cancellationToken)).Count == 0;

    /// <summary>Deletes the queues (with their messages) and exchanges; entities already missing count as deleted.</summary>
    public async Task DeleteAsync(IConnection connection, CancellationToken cancellationToken = default)
    {
        await using var channels = new ChannelSource(connection);
        foreach (var queue in (IEnumerable<string>)[.. Queues, ExpiryWaitBridgeQueue])
        {
            try { await (await channels.GetAsync(cancellationToken)).QueueDeleteAsync(queue, ifUnused: false, ifEmpty: false, cancellationToken: cancellationToken); }
            catch (OperationInterruptedException e) when (e.ShutdownReason?.ReplyCode == Constants.NotFound) { channels.Broken(); }
        }
        foreach (var exchange in Exchanges)
        {
            try { await (await channels.GetAsync(cancellationToken)).ExchangeDeleteAsync(exchange, ifUnused: false, cancellationToken: cancellationToken); }
            catch (OperationInterruptedException e) when (e.ShutdownReason?.ReplyCode == Constants.NotFound) { channels.Broken(); }
        }
    }

    // Quorum queues everywhere: replicated, and in 3.10 the only type with at-least-once dead-lettering (needs reject-publish),
    // so neither an expiry nor a poison message can be lost between a queue and its dead-letter target.
    static Dictionary<string, object?> QuorumArguments() => new() { ["x-queue-type"] = "quorum" };

    static Dictionary<string, object?> DeadLetteringArguments(string deadLetterExchange, string deadLetterRoutingKey) => new()
    {
        ["x-queue-type"] = "quorum",
        ["x-dead-letter-exchange"] = deadLetterExchange,
        ["x-dead-letter-routing-key"] = deadLetterRoutingKey,
        ["x-dead-letter-strategy"] = "at-least-once",
        ["x-overflow"] = "reject-publish",
    };

    static async Task DeclareQueueAsync(ChannelSource channels, string queue, Dictionary<string, object?> arguments, CancellationToken cancellationToken)
    {
        try
        {
            await (await channels.GetAsync(cancellationToken)).QueueDeclareAsync(queue, durable: true, exclusive: false, autoDelete: false,
                arguments: arguments, cancellationToken: cancellationToken);
        }
        catch (OperationInterruptedException e) when (e.ShutdownReason?.ReplyCode == Constants.PreconditionFailed)
        {
            channels.Broken();
            throw new TopologyConflictException($"Queue {queue} exists with other arguments: {e.ShutdownReason.ReplyText}", e);
        }
    }

    static string ValidName(string value, string parameter)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(value, parameter);
        if (!NamePattern().IsMatch(value))
            throw new ArgumentException($"'{value}' is not a valid name (lowercase letters, digits, '-', '.', '_')", parameter);
        return value;
    }

    [GeneratedRegex("^[a-z0-9]([a-z0-9._-]{0,98}[a-z0-9])?$")]
    private static partial Regex NamePattern();
}

/// <summary>Passive checks of arbitrary exchanges and queues.</summary>
public static class RabbitMqTopology
{
    /// <summary>Names of the given exchanges and queues that do not exist, as "exchange X" / "queue Y".</summary>
    public static async Task<IReadOnlyList<string>> FindMissingAsync(IConnection connection, IEnumerable<string> exchanges, IEnumerable<string> queues,
        CancellationToken cancellationToken = default)
    {
        var missing = new List<string>();
        await using var channels = new ChannelSource(connection);
        foreach (var exchange in exchanges)
        {
            try { await (await channels.GetAsync(cancellationToken)).ExchangeDeclarePassiveAsync(exchange, cancellationToken); }
            catch (OperationInterruptedException e) when (e.ShutdownReason?.ReplyCode == Constants.NotFound)
            {
                channels.Broken();
                missing.Add($"exchange {exchange}");
            }
        }
        foreach (var queue in queues)
        {
            try { await (await channels.GetAsync(cancellationToken)).QueueDeclarePassiveAsync(queue, cancellationToken); }
            catch (OperationInterruptedException e) when (e.ShutdownReason?.ReplyCode == Constants.NotFound)
            {
                channels.Broken();
                missing.Add($"queue {queue}");
            }
        }
        return missing;
    }
}

/// <summary>A channel for a sequence of declarations; a failed one closes the channel, so the next call opens another.</summary>
sealed class ChannelSource(IConnection connection) : IAsyncDisposable
{
    IChannel? _channel;
    bool _broken;

    public async ValueTask<IChannel> GetAsync(CancellationToken cancellationToken)
    {
        if (_channel is { IsOpen: true } && !_broken) return _channel;
        await DisposeChannelAsync();
        _broken = false;
        return _channel = await connection.CreateChannelAsync(cancellationToken: cancellationToken);
    }

    /// <summary>The broker closed the channel after a failed operation: the next <see cref="GetAsync"/> opens another.</summary>
    public void Broken() => _broken = true;

    async ValueTask DisposeChannelAsync()
    {
        if (_channel is null) return;
        try
        {
            if (_channel.IsOpen) await _channel.CloseAsync();
        }
        catch (Exception) { /* already closed by the broker */ }
        try { await _channel.DisposeAsync(); } catch (Exception) { /* already closed */ }
        _channel = null;
    }

    public ValueTask DisposeAsync() => DisposeChannelAsync();
}
