using FlashSale.Contracts;
using FlashSale.Messaging;
using FlashSale.Sales;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using RabbitMQ.Client;

namespace FlashSale.Users.Tests;

/// <summary>
/// Refunds of debited orders that expired, against real PostgreSQL and RabbitMQ: the users service consumes its sale's
/// order.expired events (queue &lt;prefix&gt;.users) and gives a recorded debit back once.
/// </summary>
public sealed class RefundTests : IAsyncLifetime
{
    readonly string _namespace = "t" + Guid.NewGuid().ToString("N")[..10];
    readonly string _sale = "s" + Guid.NewGuid().ToString("N")[..10];
    SaleTopology _topology = null!;
    IConnection _rabbit = null!;
    string _db = "";
    UsersFactory _users = null!;
    HttpClient _client = null!;

    public async Task InitializeAsync()
    {
        await Infra.RequireAsync();
        _topology = new SaleTopology(_namespace, _sale);
        _rabbit = await new ConnectionFactory { Uri = new Uri(Infra.RabbitMq) }.CreateConnectionAsync();
        await _topology.DeclareAsync(_rabbit, TimeSpan.FromMinutes(15));
        _db = await Infra.CreateDatabaseAsync("users");
        _users = new UsersWithSaleFactory(UsersFactory.DefaultSettings(_db, TestTokens.NewSigningKeyPem()), new Dictionary<string, string?>
        {
            ["ConnectionStrings:RabbitMq"] = Infra.RabbitMq,
            ["RabbitMq:Namespace"] = _namespace,
            ["RabbitMq:Sale"] = _sale,
        });
        _client = _users.CreateClient();
    }

    public async Task DisposeAsync()
    {
        await _users.DisposeAsync();
        await _topology.DeleteAsync(_rabbit);
        await _rabbit.DisposeAsync();
    }

    /// <summary>The sale's settings go in through UseSetting: the service decides while registering whether to consume a queue.</summary>
    sealed class UsersWithSaleFactory(IDictionary<string, string?> settings, IDictionary<string, string?> sale) : UsersFactory(settings)
    {
        protected override void ConfigureWebHost(Microsoft.AspNetCore.Hosting.IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            foreach (var (key, value) in sale) builder.UseSetting(key, value);
        }
    }

    async Task<(Guid UserId, string Token)> NewBuyerAsync()
    {
        var user = await UsersClient.RegisterAsync(_client, UsersFixture.Unique());
        return (user.Id, await UsersClient.LoginAsync(_client, user.Username));
    }

    Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, string token, object? body = null) =>
        UsersClient.SendAsync(_client, method, path, token, body);

    async Task<decimal> BalanceAsync(string token) =>
        (await (await SendAsync(HttpMethod.Get, "/api/wallet", token)).Content.ReadFromJsonAsync<WalletResponse>())!.Balance;

    Task PublishExpiredAsync(Guid orderId, Guid userId, decimal unitPrice, string? messageId = null)
    {
        var e = new OrderEvent(OrderEventTypes.EventId(OrderEventTypes.Expired, orderId), OrderEventTypes.Expired, orderId, _namespace, _sale, userId,
            "item", 1, unitPrice, "EUR", DateTimeOffset.UtcNow);
        return _users.Services.GetRequiredService<IEventPublisher>().PublishAsync(_topology.Exchange, OrderEventTypes.Expired,
            new OutgoingEvent(messageId ?? e.EventId, e.Type, e.ToJson()));
    }

    async Task<long> LedgerRowsAsync(Guid orderId, string kind)
    {
        await using var db = NpgsqlDataSource.Create(_db);
        await using var cmd = db.CreateCommand("SELECT count(*) FROM users.wallet_ledger WHERE order_id = $1 AND kind = $2");
        cmd.Parameters.Add(new() { Value = orderId });
        cmd.Parameters.Add(new() { Value = kind });
        return (long)(await cmd.ExecuteScalarAsync())!;
    }

    [Fact]
    public async Task ADebitedOrderThatExpiresIsRefundedOnceWhateverIsRedeliveredAndAnUndebitedOneChangesNothing()
    {
        var (buyer, token) = await NewBuyerAsync();
        var debited = Guid.CreateVersion7();
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(HttpMethod.Post, "/api/wallet/debits", token, new { orderId = debited, amount = 25.50m, currency = "EUR" })).StatusCode);
        Assert.Equal(974.50m, await BalanceAsync(token));

        // The expired event, then the same event again (a redelivery) and once more under another message id (a republish).
        await PublishExpiredAsync(debited, buyer, 25.50m);
        await Eventually.UntilAsync(async () => await BalanceAsync(token) == 1000m, "the debit is given back");
        await PublishExpiredAsync(debited, buyer, 25.50m);
        await PublishExpiredAsync(debited, buyer, 25.50m, messageId: "republished-" + Guid.NewGuid().ToString("N"));

        // An order of this buyer that expired without a debit (the usual case), published after the repeats: once it has
        // been consumed, the repeats before it have been too.
        var undebited = Guid.CreateVersion7();
        await PublishExpiredAsync(undebited, buyer, 25.50m);
        await Eventually.UntilAsync(async () =>
        {
            await using var db = NpgsqlDataSource.Create(_db);
            await using var cmd = db.CreateCommand("SELECT count(*) FROM users.inbox WHERE message_id = $1");
            cmd.Parameters.Add(new() { Value = OrderEventTypes.EventId(OrderEventTypes.Expired, undebited) });
            return (long)(await cmd.ExecuteScalarAsync())! == 1;
        }, "the undebited order's event is consumed");

        Assert.Equal(1000m, await BalanceAsync(token));
        Assert.Equal(1, await LedgerRowsAsync(debited, "refund"));
        Assert.Equal(0, await LedgerRowsAsync(undebited, "refund"));
        Assert.Contains("wallet_refunds_total 1", (await _client.GetStringAsync("/metrics")).Split('\n'));
        // A debit retried for the refunded order replays the original debit: it is not charged again.
        var replay = await SendAsync(HttpMethod.Post, "/api/wallet/debits", token, new { orderId = debited, amount = 25.50m, currency = "EUR" });
        Assert.Equal(HttpStatusCode.OK, replay.StatusCode);
        Assert.Equal(1000m, await BalanceAsync(token));
        Assert.Equal(1, await LedgerRowsAsync(debited, "debit"));
    }
}
