using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using FlashSale.Messaging;
using FlashSale.Sales;
using RabbitMQ.Client;
using StackExchange.Redis;
using Xunit;

namespace FlashSale.TestSupport;

public sealed record OrderAnswer(Guid OrderId, string Status);

/// <summary>
/// One isolated world per test class: its own namespace (Redis registry, queues) and database, shared by real hosts of the
/// services (each in its own schema) against the shared (or a fault test's private) PostgreSQL, Redis and RabbitMQ. The
/// settings of each service live here once; a test project starts a service with <c>world.Start&lt;Program&gt;(world.Orders())</c>.
/// </summary>
public sealed class SaleWorld : IAsyncDisposable
{
    public const decimal Price = 25m;
    public required string Namespace { get; init; }
    public required string Postgres { get; init; }
    public required string Redis { get; init; }
    public required string RabbitMq { get; init; }
    public required ConnectionMultiplexer Mux { get; init; }
    public required NpgsqlDataSource Db { get; init; }
    public SaleStore Store => new(Mux);
    readonly List<IAsyncDisposable> _hosts = [];
    readonly List<string> _sales = [];

    /// <param name="database">The test database prefix (see <see cref="TestDatabases"/>).</param>
    public static async Task<SaleWorld> CreateAsync(string? postgres = null, string? redis = null, string? rabbitMq = null, string database = "orders")
    {
        if (postgres is null) await Infra.RequireAsync();
        var pg = postgres ?? await Infra.CreateDatabaseAsync(database);
        var r = redis ?? Infra.Redis;
        return new SaleWorld
        {
            Namespace = "t" + Guid.NewGuid().ToString("N")[..10],
            Postgres = pg,
            Redis = r,
            RabbitMq = rabbitMq ?? Infra.RabbitMq,
            Mux = await ConnectionMultiplexer.ConnectAsync(r + ",allowAdmin=true,abortConnect=false"),
            Db = NpgsqlDataSource.Create(pg),
        };
    }

    /// <summary>What every service needs: the servers, this world's namespace, and trust in <see cref="TestTokens"/>.</summary>
    public Dictionary<string, string?> Common(string? sale = null)
    {
        var s = new Dictionary<string, string?>
        {
            ["ConnectionStrings:Postgres"] = Postgres,
            ["ConnectionStrings:Redis"] = Redis,
            ["ConnectionStrings:RabbitMq"] = RabbitMq,
            ["RabbitMq:Namespace"] = Namespace,
            ["RabbitMq:Sale"] = sale,
            ["Logging:LogLevel:Default"] = "Warning",
        };
        foreach (var (k, v) in TestTokens.AuthSettings()) s[k] = v;
        return s;
    }

    /// <param name="gate">The stock gate (Orders:StockGate).</param>
    /// <param name="users">The users service for payments, if the test pays.</param>
    public Dictionary<string, string?> Orders(string gate = "redis", Uri? users = null)
    {
        var s = Common();
        s["Orders:Namespace"] = Namespace;
        s["Orders:StockGate"] = gate;
        s["Orders:Relay:LeaseTime"] = "00:00:02";
        s["Orders:Payment:UsersUrl"] = users?.ToString();
        s["Orders:Expiry:SweepInterval"] = "00:00:00.500";
        // Generous bounds for tests that are not about outages: a busy CI machine must not trip the breaker.
        s["Orders:Payment:Timeout"] = "00:00:20";
        s["Orders:Payment:AttemptTimeout"] = "00:00:10";
        return s;
    }

    public Dictionary<string, string?> Stock(string sale)
    {
        var s = Common(sale);
        s["Stock:Namespace"] = Namespace;
        s["Stock:Sale"] = sale;
        return s;
    }

    /// <summary>
    /// The users service's settings: wallets open with <paramref name="initialBalance"/>; with <paramref name="sale"/> it also
    /// consumes that sale's order.expired events (refunds of debited orders that expired).
    /// </summary>
    public Dictionary<string, string?> Users(decimal initialBalance = 250m, string? sale = null)
    {
        var s = Common(sale);
        s["Auth:SigningKeyPem"] = SigningKeyPem;
        s["Users:PasswordHashIterations"] = "100000";
        s["Users:LoginRateLimit:PerUsername"] = "1000";
        s["Users:LoginRateLimit:PerAddress"] = "100000";
        s["Wallet:InitialBalance"] = initialBalance.ToString(CultureInfo.InvariantCulture);
        s["Wallet:Currency"] = "EUR";
        return s;
    }

    public Dictionary<string, string?> Notifications(string sale)
    {
        var s = Common(sale);
        s["Notifications:PollInterval"] = "00:00:00.100";
        return s;
    }

    /// <summary>The users service's own signing key (its tokens are not <see cref="TestTokens"/>).</summary>
    public string SigningKeyPem { get; } = TestTokens.NewSigningKeyPem();

    /// <summary>Starts a service on a loopback port (0: any free one) with <paramref name="settings"/>, edited by <paramref name="tweak"/>.</summary>
    public ServiceHost<TProgram> Start<TProgram>(Dictionary<string, string?> settings, Action<Dictionary<string, string?>>? tweak = null, int port = 0)
        where TProgram : class
    {
        tweak?.Invoke(settings);
        var host = new ServiceHost<TProgram>(settings);
        host.UseKestrel(port);
        host.StartServer();
        _hosts.Add(host);
        return host;
    }

    public async Task StopAsync(IAsyncDisposable host)
    {
        _hosts.Remove(host);
        await host.DisposeAsync();
    }

    public async Task<SaleDefinition> NewSaleAsync(long stock = 100, int limit = 1, double startsInSeconds = -60, double endsInSeconds = 3600,
        TimeSpan? paymentTimeout = null, bool declareTopology = true)
    {
        var sale = new SaleDefinition(Namespace, "s" + Guid.NewGuid().ToString("N")[..10],
            DateTimeOffset.UtcNow.AddSeconds(startsInSeconds), DateTimeOffset.UtcNow.AddSeconds(endsInSeconds),
            paymentTimeout ?? TimeSpan.FromMinutes(15),
            [new ProductDefinition("item", "Item", Price, "EUR", stock, limit)]);
        await Store.PreloadAsync(sale);
        _sales.Add(sale.Name);
        if (declareTopology)
        {
            // Bounded, so that a broker in trouble fails the test instead of hanging it.
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            await using var connection = await new ConnectionFactory { Uri = new Uri(RabbitMq) }.CreateConnectionAsync(cts.Token);
            await new SaleTopology(Namespace, sale.Name).DeclareAsync(connection, sale.PaymentTimeout, cts.Token);
        }
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

    /// <summary>Places an order that must be accepted (202) and returns its id.</summary>
    public async Task<Guid> PlaceOrderAsync(HttpClient orders, string sale, string token, int quantity = 1)
    {
        using var request = Buyers.Order(sale, "item", quantity, token, Guid.NewGuid().ToString());
        using var response = await orders.SendAsync(request);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<OrderAnswer>())!.OrderId;
    }

    public async Task<long> ScalarAsync(string sql, params (string, object)[] args)
    {
        await using var cmd = Db.CreateCommand(sql);
        foreach (var (n, v) in args) cmd.Parameters.AddWithValue(n, v);
        return Convert.ToInt64(await cmd.ExecuteScalarAsync());
    }

    public Task<long> OrdersInPostgresAsync(string sale) =>
        ScalarAsync("SELECT count(*) FROM orders.orders WHERE namespace = @ns AND sale = @sale", ("ns", Namespace), ("sale", sale));

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

    /// <summary>
    /// Waits until PostgreSQL holds <paramref name="expected"/> orders of the sale and, when <paramref name="drained"/>, the
    /// sale's stream is empty.
    /// </summary>
    public async Task WaitForOrdersAsync(string sale, long expected, TimeSpan? timeout = null, bool drained = true)
    {
        var keys = new SaleKeys(Namespace, sale);
        long inPg = -1, pending = -1;
        try
        {
            await Eventually.UntilAsync(async () =>
            {
                inPg = await OrdersInPostgresAsync(sale);
                pending = await Mux.GetDatabase().StreamLengthAsync(keys.Stream);
                return inPg == expected && (pending == 0 || !drained);
            }, "orders reach PostgreSQL", timeout);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"expected {expected} orders in PostgreSQL, found {inPg}; {pending} stream entries pending");
        }
    }

    /// <summary>The stock service's audit of a sale, read as the admin.</summary>
    public static async Task<TAudit> AuditAsync<TAudit>(Uri stock, string sale)
    {
        using var client = new HttpClient { BaseAddress = stock };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", TestTokens.Mint(Guid.NewGuid(), "auditor", admin: true));
        var response = await client.GetAsync($"/api/sales/{sale}/audit");
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<TAudit>())!;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var h in _hosts) { try { await h.DisposeAsync(); } catch { } }
        // Leave the shared servers as we found them: remove this world's queues, exchanges and Redis keys (thousands of
        // leftover queues keep an idle broker busy).
        try
        {
            await using var connection = await new ConnectionFactory { Uri = new Uri(RabbitMq) }.CreateConnectionAsync();
            foreach (var sale in _sales) await new SaleTopology(Namespace, sale).DeleteAsync(connection);
        }
        catch { /* a fault test may have stopped its private broker */ }
        try { foreach (var sale in _sales) await Store.DeleteAsync(new SaleKeys(Namespace, sale)); } catch { }
        await Db.DisposeAsync();
        await Mux.DisposeAsync();
    }
}

public static class Buyers
{
    public static HttpRequestMessage Order(string sale, string sku, int quantity, string? token, string? key)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, $"/api/sales/{sale}/orders") { Content = JsonContent.Create(new { sku, quantity }) };
        if (token is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        if (key is not null) request.Headers.Add("Idempotency-Key", key);
        return request;
    }

    public static HttpRequestMessage Payment(Guid orderId, string token)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, $"/api/orders/{orderId}/payment");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return request;
    }

    public static HttpClient SharedClient(Uri baseAddress, int connections = 256) =>
        new(new SocketsHttpHandler { MaxConnectionsPerServer = connections, PooledConnectionLifetime = TimeSpan.FromMinutes(5) })
        { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(60) };
}

/// <summary>A test class with a <see cref="SaleWorld"/> of its own, made before its first test and removed after its last.</summary>
public abstract class SaleWorldTests : IAsyncLifetime
{
    protected SaleWorld World { get; private set; } = null!;

    public async Task InitializeAsync() => World = await SaleWorld.CreateAsync();
    public async Task DisposeAsync() => await World.DisposeAsync();
}
