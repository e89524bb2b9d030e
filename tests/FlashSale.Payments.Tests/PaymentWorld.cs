extern alias notifsvc;
extern alias stocksvc;
extern alias userssvc;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text.Json;
using FlashSale.Messaging;
using FlashSale.Sales;
using FlashSale.TestSupport;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using RabbitMQ.Client;
using StackExchange.Redis;
using NotificationsProgram = notifsvc::Program;
using StockProgram = stocksvc::Program;
using UsersProgram = userssvc::Program;

namespace FlashSale.Payments.Tests;

public sealed record OrderAnswer(Guid OrderId, string Status);
public sealed record OrderView(Guid OrderId, string Sale, string Sku, int Quantity, decimal UnitPrice, string Currency, string Status,
    DateTimeOffset CreatedAt, DateTimeOffset PaymentDueAt, DateTimeOffset? PaidAt, DateTimeOffset? ExpiredAt);

/// <summary>
/// One isolated world per test class: its own namespace (Redis, queues) and database, shared by real hosts of the
/// orders, users and stock services (each in its own schema), against the shared PostgreSQL, Redis and RabbitMQ.
/// </summary>
public sealed class PaymentWorld : IAsyncDisposable
{
    public const decimal Price = 25m;
    public required string Namespace { get; init; }
    public required string Postgres { get; init; }
    public required ConnectionMultiplexer Mux { get; init; }
    public required NpgsqlDataSource Db { get; init; }
    public SaleStore Store => new(Mux);
    public string UsersSigningKey { get; } = NewPem();
    readonly List<IAsyncDisposable> _hosts = [];
    readonly List<string> _sales = [];

    public static async Task<PaymentWorld> CreateAsync()
    {
        await Infra.RequireAsync();
        var pg = await Infra.CreateDatabaseAsync("payments");
        return new PaymentWorld
        {
            Namespace = "p" + Guid.NewGuid().ToString("N")[..10],
            Postgres = pg,
            Mux = await ConnectionMultiplexer.ConnectAsync(Infra.Redis + ",allowAdmin=true,abortConnect=false"),
            Db = NpgsqlDataSource.Create(pg),
        };
    }

    static string NewPem()
    {
        using var rsa = RSA.Create(2048);
        return rsa.ExportPkcs8PrivateKeyPem();
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    Dictionary<string, string?> Common() => new()
    {
        ["ConnectionStrings:Postgres"] = Postgres,
        ["ConnectionStrings:Redis"] = Infra.Redis,
        ["ConnectionStrings:RabbitMq"] = Infra.RabbitMq,
        ["RabbitMq:Namespace"] = Namespace,
        ["Auth:Issuer"] = TestTokens.Issuer,
        ["Auth:Audience"] = TestTokens.Audience,
        ["Auth:Jwks"] = TestTokens.Jwks,
        ["Logging:LogLevel:Default"] = "Warning",
    };

    public ServiceHost<Program> StartOrders(Uri? users, Action<Dictionary<string, string?>>? tweak = null)
    {
        var s = Common();
        s["Orders:Namespace"] = Namespace;
        s["Orders:Relay:LeaseTime"] = "00:00:02";
        s["Orders:Payment:UsersUrl"] = users?.ToString();
        s["Orders:Expiry:SweepInterval"] = "00:00:00.500";
        // Generous bounds for tests that are not about outages: a busy CI machine must not trip the breaker.
        s["Orders:Payment:Timeout"] = "00:00:20";
        s["Orders:Payment:AttemptTimeout"] = "00:00:10";
        tweak?.Invoke(s);
        return Start(new ServiceHost<Program>(s), 0);
    }

    /// <summary>
    /// The users service on <paramref name="port"/> (0: any); wallets open with <paramref name="initialBalance"/>. With
    /// <paramref name="sale"/>, it also consumes that sale's order.expired events (refunds of debited orders that expired).
    /// </summary>
    public ServiceHost<UsersProgram> StartUsers(int port = 0, decimal initialBalance = 250m, string? sale = null)
    {
        var s = Common();
        if (sale is not null) s["RabbitMq:Sale"] = sale;
        s["Auth:SigningKeyPem"] = UsersSigningKey;
        s["Users:PasswordHashIterations"] = "100000";
        s["Users:LoginRateLimit:PerUsername"] = "1000";
        s["Users:LoginRateLimit:PerAddress"] = "100000";
        s["Wallet:InitialBalance"] = initialBalance.ToString(System.Globalization.CultureInfo.InvariantCulture);
        s["Wallet:Currency"] = "EUR";
        return Start(new ServiceHost<UsersProgram>(s), port);
    }

    public ServiceHost<StockProgram> StartStock(string sale)
    {
        var s = Common();
        s["Stock:Namespace"] = Namespace;
        s["Stock:Sale"] = sale;
        s["RabbitMq:Sale"] = sale;
        return Start(new ServiceHost<StockProgram>(s), 0);
    }

    public ServiceHost<NotificationsProgram> StartNotifications(string sale)
    {
        var s = Common();
        s["RabbitMq:Sale"] = sale;
        s["Notifications:PollInterval"] = "00:00:00.100";
        return Start(new ServiceHost<NotificationsProgram>(s), 0);
    }

    ServiceHost<T> Start<T>(ServiceHost<T> host, int port) where T : class
    {
        if (port == 0) host.UseKestrel(0); else host.UseKestrel(port);
        host.StartServer();
        _hosts.Add(host);
        return host;
    }

    public async Task StopAsync(IAsyncDisposable host)
    {
        _hosts.Remove(host);
        await host.DisposeAsync();
    }

    public async Task<SaleDefinition> NewSaleAsync(long stock = 100, int limit = 1, TimeSpan? paymentTimeout = null)
    {
        var sale = new SaleDefinition(Namespace, "s" + Guid.NewGuid().ToString("N")[..10],
            DateTimeOffset.UtcNow.AddSeconds(-60), DateTimeOffset.UtcNow.AddHours(1), paymentTimeout ?? TimeSpan.FromMinutes(15),
            [new ProductDefinition("item", "Item", Price, "EUR", stock, limit)]);
        await Store.PreloadAsync(sale);
        _sales.Add(sale.Name);
        // Bounded, so that a broker in trouble fails the test instead of hanging it.
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var factory = new ConnectionFactory { Uri = new Uri(Infra.RabbitMq) };
        await using var connection = await factory.CreateConnectionAsync(cts.Token);
        await new SaleTopology(Namespace, sale.Name).DeclareAsync(connection, sale.PaymentTimeout, cts.Token);
        return sale;
    }

    /// <summary>Registers a buyer in the users service (a wallet with its initial balance) and mints a token for them.</summary>
    public async Task<(Guid Id, string Token)> RegisterAsync(HttpClient users)
    {
        var name = "b" + Guid.NewGuid().ToString("N")[..12];
        var response = await users.PostAsJsonAsync("/api/users", new { username = name, email = name + "@example.com", password = "correct horse battery" });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var id = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
        return (id, TestTokens.Mint(id));
    }

    public async Task<Guid> PlaceOrderAsync(HttpClient orders, string sale, string token, int quantity = 1)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/sales/{sale}/orders") { Content = JsonContent.Create(new { sku = "item", quantity }) };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        request.Headers.Add("Idempotency-Key", Guid.NewGuid().ToString());
        using var response = await orders.SendAsync(request);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<OrderAnswer>())!.OrderId;
    }

    public static HttpRequestMessage Payment(Guid orderId, string token)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, $"/api/orders/{orderId}/payment");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return request;
    }

    public async Task<long> ScalarAsync(string sql, params (string, object)[] args)
    {
        await using var cmd = Db.CreateCommand(sql);
        foreach (var (n, v) in args) cmd.Parameters.AddWithValue(n, v);
        return Convert.ToInt64(await cmd.ExecuteScalarAsync());
    }

    public async Task<decimal> BalanceAsync(Guid user)
    {
        await using var cmd = Db.CreateCommand("SELECT balance FROM users.wallets WHERE user_id = @u");
        cmd.Parameters.AddWithValue("u", user);
        return (decimal)(await cmd.ExecuteScalarAsync())!;
    }

    public async Task<string?> StatusAsync(Guid order)
    {
        await using var cmd = Db.CreateCommand("SELECT status FROM orders.orders WHERE order_id = @id");
        cmd.Parameters.AddWithValue("id", order);
        return (string?)await cmd.ExecuteScalarAsync();
    }

    public Task WaitForOrdersAsync(string sale, long count) => Eventually.UntilAsync(async () =>
        await ScalarAsync("SELECT count(*) FROM orders.orders WHERE sale = @s", ("s", sale)) == count, $"{count} orders of {sale} are in PostgreSQL");

    public async Task<stocksvc::FlashSale.Stock.SaleAudit> AuditAsync(ServiceHost<StockProgram> stock, string sale)
    {
        using var client = stock.Client(TestTokens.Mint(Guid.NewGuid(), "auditor", admin: true));
        var response = await client.GetAsync($"/api/sales/{sale}/audit");
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<stocksvc::FlashSale.Stock.SaleAudit>())!;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var h in _hosts) { try { await h.DisposeAsync(); } catch { } }
        // Leave the shared servers as we found them: remove this world's queues, exchanges and Redis keys (thousands of
        // leftover queues keep an idle broker busy).
        try
        {
            await using var connection = await new ConnectionFactory { Uri = new Uri(Infra.RabbitMq) }.CreateConnectionAsync();
            foreach (var sale in _sales) await new SaleTopology(Namespace, sale).DeleteAsync(connection);
        }
        catch { /* the broker is gone: nothing to leave behind there */ }
        try { foreach (var sale in _sales) await Store.DeleteAsync(new SaleKeys(Namespace, sale)); } catch { }
        await Db.DisposeAsync();
        await Mux.DisposeAsync();
    }
}
