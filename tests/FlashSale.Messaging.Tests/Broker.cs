using System.Collections.Concurrent;
using FlashSale.TestSupport;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using RabbitMQ.Client;

namespace FlashSale.Messaging.Tests;

/// <summary>Raw broker access for assertions, unique sale names, polling.</summary>
static class Broker
{
    public static SaleTopology NewSale() => new("test", $"s{Guid.NewGuid():N}"[..20]);

    public static async Task<IConnection> ConnectAsync(string? uri = null)
    {
        await Infra.RequireAsync(postgres: false, redis: false);
        return await new ConnectionFactory { Uri = new Uri(uri ?? Infra.RabbitMq) }.CreateConnectionAsync();
    }

    /// <summary>Takes (and acks) every message currently in the queue.</summary>
    public static async Task<List<BasicGetResult>> DrainAsync(IConnection connection, string queue)
    {
        await using var channel = await connection.CreateChannelAsync();
        var messages = new List<BasicGetResult>();
        while (await channel.BasicGetAsync(queue, autoAck: true) is { } m) messages.Add(m);
        return messages;
    }

    /// <summary>Takes messages from the queue until <paramref name="count"/> arrived or the time is up.</summary>
    public static async Task<List<BasicGetResult>> TakeAsync(IConnection connection, string queue, int count, TimeSpan within)
    {
        await using var channel = await connection.CreateChannelAsync();
        var messages = new List<BasicGetResult>();
        var deadline = DateTime.UtcNow + within;
        while (messages.Count < count && DateTime.UtcNow < deadline)
        {
            if (await channel.BasicGetAsync(queue, autoAck: true) is { } m) messages.Add(m);
            else await Task.Delay(50);
        }
        return messages;
    }

    public static async Task<uint> CountAsync(IConnection connection, string queue)
    {
        await using var channel = await connection.CreateChannelAsync();
        return (await channel.QueueDeclarePassiveAsync(queue)).MessageCount;
    }

    public static async Task<bool> EventuallyAsync(Func<Task<bool>> condition, TimeSpan within)
    {
        var deadline = DateTime.UtcNow + within;
        while (DateTime.UtcNow < deadline)
        {
            if (await condition()) return true;
            await Task.Delay(50);
        }
        return await condition();
    }

    public static OutgoingEvent Event(string? id = null, string type = EventRoutingKeys.OrderPaid) =>
        OutgoingEvent.Json(id ?? Guid.NewGuid().ToString(), type, new { orderId = id ?? "x", quantity = 1 });

    /// <summary>A started host with <see cref="MessagingExtensions.AddRabbitMq"/>, and optionally a consumer of <paramref name="queue"/>.</summary>
    public static async Task<RunningHost> StartHostAsync(string rabbitUri, Database? database = null, string? queue = null, HandlerScript? script = null,
        Action<EventConsumerOptions>? configure = null, IDictionary<string, string?>? settings = null, Func<SaleTopology, string>? saleQueue = null)
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ConnectionStrings:RabbitMq"] = rabbitUri,
            ["RabbitMq:RecoveryInterval"] = "00:00:01",
            ["RabbitMq:PublishTimeout"] = "00:00:10",
        });
        if (settings is not null) builder.Configuration.AddInMemoryCollection(settings);
        builder.Services.AddLogging(logging =>
        {
            if (Environment.GetEnvironmentVariable("FLASHSALE_TEST_LOGS") == "1") logging.AddSimpleConsole(o => o.TimestampFormat = "HH:mm:ss.fff ");
        });
        builder.Services.AddRabbitMq(builder.Configuration);
        if (database is not null) builder.Services.AddSingleton(database.DataSource);
        builder.Services.AddSingleton(script ?? new HandlerScript());
        void Options(EventConsumerOptions o)
        {
            o.MaxAttempts = 3;
            o.RetryDelay = TimeSpan.FromMilliseconds(50);
            configure?.Invoke(o);
        }
        if (queue is not null) builder.Services.AddEventConsumer<RecordingHandler>(queue, Options);
        if (saleQueue is not null)
            builder.Services.AddEventConsumer<RecordingHandler>(saleQueue(builder.Configuration.GetSection("RabbitMq").Get<RabbitMqOptions>()!.GetSaleTopology()!), Options);
        var host = builder.Build();
        await host.StartAsync();
        return new RunningHost(host);
    }
}

/// <summary>A started host, stopped and disposed by <c>await using</c>.</summary>
public sealed class RunningHost(IHost host) : IAsyncDisposable
{
    public IServiceProvider Services => host.Services;

    public async ValueTask DisposeAsync()
    {
        await host.StopAsync();
        if (host is IAsyncDisposable d) await d.DisposeAsync(); else host.Dispose();
    }
}

/// <summary>A fresh database with the table the test handler writes its effects to.</summary>
public sealed class Database : IAsyncLifetime
{
    public NpgsqlDataSource DataSource { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        DataSource = NpgsqlDataSource.Create(await Infra.CreateDatabaseAsync("msg"));
        await using var cmd = DataSource.CreateCommand("CREATE TABLE effects (message_id text NOT NULL, attempt int NOT NULL);" + Inbox.MigrationSql);
        await cmd.ExecuteNonQueryAsync();
    }

    public async Task<List<int>> EffectsAsync(string messageId)
    {
        await using var cmd = DataSource.CreateCommand("SELECT attempt FROM effects WHERE message_id = $1 ORDER BY attempt");
        cmd.Parameters.Add(new NpgsqlParameter { Value = messageId });
        var attempts = new List<int>();
        await using var reader = await cmd.ExecuteReaderAsync();
        while (await reader.ReadAsync()) attempts.Add(reader.GetInt32(0));
        return attempts;
    }

    public async Task<long> InboxCountAsync(string messageId)
    {
        await using var cmd = DataSource.CreateCommand("SELECT count(*) FROM public.inbox WHERE message_id = $1");
        cmd.Parameters.Add(new NpgsqlParameter { Value = messageId });
        return (long)(await cmd.ExecuteScalarAsync())!;
    }

    public async Task DisposeAsync() => await DataSource.DisposeAsync();
}

/// <summary>What the test handler does: which events fail, and every delivery it saw (id -> attempts).</summary>
public sealed class HandlerScript
{
    public Func<IncomingEvent, bool> Fails { get; set; } = _ => false;
    public ConcurrentDictionary<string, ConcurrentQueue<int>> Seen { get; } = new();

    public int[] AttemptsOf(string messageId) => Seen.TryGetValue(messageId, out var q) ? [.. q] : [];
}

/// <summary>Writes one effects row in the consumer's transaction, then fails if the script says so (so a failure must roll the row back).</summary>
public sealed class RecordingHandler(HandlerScript script) : IEventHandler
{
    public async Task HandleAsync(IReadOnlyList<IncomingEvent> events, NpgsqlConnection connection, NpgsqlTransaction transaction, CancellationToken cancellationToken)
    {
        foreach (var e in events) await HandleAsync(e, connection, transaction, cancellationToken);
    }

    async Task HandleAsync(IncomingEvent e, NpgsqlConnection connection, NpgsqlTransaction transaction, CancellationToken cancellationToken)
    {
        script.Seen.GetOrAdd(e.MessageId, _ => new()).Enqueue(e.Attempt);
        await using var cmd = new NpgsqlCommand("INSERT INTO effects (message_id, attempt) VALUES ($1, $2)", connection, transaction);
        cmd.Parameters.Add(new NpgsqlParameter { Value = e.MessageId });
        cmd.Parameters.Add(new NpgsqlParameter { Value = e.Attempt });
        await cmd.ExecuteNonQueryAsync(cancellationToken);
        if (script.Fails(e)) throw new InvalidOperationException($"scripted failure of {e.MessageId} at attempt {e.Attempt}");
    }
}
