using System.Net.Http.Headers;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace FlashSale.Notifications.Tests;

public sealed record NotificationRow(Guid OrderId, string Template, string Recipient, string Status, int Attempts, string? LastError);

/// <summary>A namespace, a sale topology and a database of its own; events are published to the sale exchange as the orders service does.</summary>
public sealed class NotificationsWorld : IAsyncDisposable
{
    public required string Namespace { get; init; }
    public required string Sale { get; init; }
    public required NpgsqlDataSource Db { get; init; }
    public required string Postgres { get; init; }
    public required IConnection Rabbit { get; init; }
    public SaleTopology Topology => new(Namespace, Sale);
    readonly List<IAsyncDisposable> _hosts = [];

    public static async Task<NotificationsWorld> CreateAsync()
    {
        await Infra.RequireAsync(redis: false);
        var pg = await Infra.CreateDatabaseAsync("notifications");
        var ns = "n" + Guid.NewGuid().ToString("N")[..10];
        var sale = "s" + Guid.NewGuid().ToString("N")[..10];
        // Bounded, so that a broker in trouble fails the test instead of hanging it.
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var rabbit = await new ConnectionFactory { Uri = new Uri(Infra.RabbitMq) }.CreateConnectionAsync(cts.Token);
        await new SaleTopology(ns, sale).DeclareAsync(rabbit, TimeSpan.FromMinutes(15), cts.Token);
        return new NotificationsWorld { Namespace = ns, Sale = sale, Db = NpgsqlDataSource.Create(pg), Postgres = pg, Rabbit = rabbit };
    }

    public ServiceHost<Program> Start(Action<Dictionary<string, string?>>? tweak = null)
    {
        var s = new Dictionary<string, string?>
        {
            ["ConnectionStrings:Postgres"] = Postgres,
            ["ConnectionStrings:RabbitMq"] = Infra.RabbitMq,
            ["RabbitMq:Namespace"] = Namespace,
            ["RabbitMq:Sale"] = Sale,
            ["RabbitMq:Consumers:NotificationEventHandler:RetryDelay"] = "00:00:00.100",
            ["Notifications:PollInterval"] = "00:00:00.100",
            ["Notifications:InitialBackoff"] = "00:00:00.200",
            ["Notifications:MaxBackoff"] = "00:00:00.500",
            ["Auth:Issuer"] = TestTokens.Issuer,
            ["Auth:Audience"] = TestTokens.Audience,
            ["Auth:Jwks"] = TestTokens.Jwks,
            ["Logging:LogLevel:Default"] = "Warning",
        };
        tweak?.Invoke(s);
        var host = new ServiceHost<Program>(s);
        host.UseKestrel(0);
        host.StartServer();
        _hosts.Add(host);
        return host;
    }

    public OrderEvent Event(string type, Guid order, Guid user, string? email) =>
        new(OrderEventTypes.EventId(type, order), type, order, Namespace, Sale, user, "item", 2, 25m, "EUR", DateTimeOffset.UtcNow,
            DateTimeOffset.UtcNow.AddMinutes(15), email);

    public Task PublishAsync(OrderEvent e) => PublishRawAsync(e.EventId, e.Type, e.ToJson());

    public async Task PublishRawAsync(string messageId, string routingKey, byte[] body)
    {
        await using var channel = await Rabbit.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true));
        var props = new BasicProperties { MessageId = messageId, Type = routingKey, ContentType = "application/json", Persistent = true };
        await channel.BasicPublishAsync(Topology.Exchange, routingKey, mandatory: true, props, body);
    }

    public async Task<List<NotificationRow>> RowsAsync()
    {
        await using var cmd = Db.CreateCommand("SELECT order_id, template, recipient, status, attempts, last_error FROM notifications.notifications ORDER BY created_at");
        var rows = new List<NotificationRow>();
        try
        {
            await using var r = await cmd.ExecuteReaderAsync();
            while (await r.ReadAsync()) rows.Add(new(r.GetGuid(0), r.GetString(1), r.GetString(2), r.GetString(3), r.GetInt32(4), r.IsDBNull(5) ? null : r.GetString(5)));
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UndefinedTable) { /* not migrated yet */ }
        return rows;
    }

    public static JsonElement Json(string body) => JsonDocument.Parse(body).RootElement;

    public async ValueTask DisposeAsync()
    {
        foreach (var h in _hosts) { try { await h.DisposeAsync(); } catch { } }
        try { await Topology.DeleteAsync(Rabbit); } catch { }
        await Rabbit.DisposeAsync();
        await Db.DisposeAsync();
    }
}
