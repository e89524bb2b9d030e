extern alias stocksvc;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using FlashSale.Messaging;
using FlashSale.Sales;
using FlashSale.TestSupport;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using RabbitMQ.Client;
using StackExchange.Redis;
using StockProgram = stocksvc::Program;

namespace FlashSale.Orders.Tests;

/// <summary>One isolated world per test class: its own namespace (Redis registry, queues) and database.</summary>
public sealed class SaleWorld : IAsyncDisposable
{
    public required string Namespace { get; init; }
    public required string Postgres { get; init; }
    public required string Redis { get; init; }
    public required string RabbitMq { get; init; }
    public required ConnectionMultiplexer Mux { get; init; }
    public SaleStore Store => new(Mux);
    public NpgsqlDataSource Db { get; private init; } = null!;
    readonly List<IAsyncDisposable> _hosts = [];
    readonly List<string> _sales = [];

    public static async Task<SaleWorld> CreateAsync(string? postgres = null, string? redis = null, string? rabbitMq = null)
    {
        if (postgres is null) await Infra.RequireAsync();
        var pg = postgres ?? await Infra.CreateDatabaseAsync("orders");
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

    public Dictionary<string, string?> Settings(string gate = "redis", string? stockSale = null) => new()
    {
        ["ConnectionStrings:Postgres"] = Postgres,
        ["ConnectionStrings:Redis"] = Redis,
        ["ConnectionStrings:RabbitMq"] = RabbitMq,
        ["Orders:Namespace"] = Namespace,
        ["Orders:StockGate"] = gate,
        ["Orders:Relay:LeaseTime"] = "00:00:02",
        ["Stock:Namespace"] = Namespace,
        ["Stock:Sale"] = stockSale,
        ["RabbitMq:Namespace"] = Namespace,
        ["RabbitMq:Sale"] = stockSale,
        ["Auth:Issuer"] = TestTokens.Issuer,
        ["Auth:Audience"] = TestTokens.Audience,
        ["Auth:Jwks"] = TestTokens.Jwks,
    };

    public ServiceHost<Program> StartOrders(string gate = "redis", Action<Dictionary<string, string?>>? tweak = null)
    {
        var s = Settings(gate);
        tweak?.Invoke(s);
        var host = ServiceHost<Program>.StartKestrel(s);
        _hosts.Add(host);
        return host;
    }

    public ServiceHost<StockProgram> StartStock(string sale)
    {
        var host = ServiceHost<StockProgram>.StartKestrel(Settings(stockSale: sale));
        _hosts.Add(host);
        return host;
    }

    public async Task<SaleDefinition> NewSaleAsync(long stock = 100, int limit = 1, double startsInSeconds = -60, double endsInSeconds = 3600,
        TimeSpan? paymentTimeout = null, bool declareTopology = true)
    {
        var sale = new SaleDefinition(Namespace, "s" + Guid.NewGuid().ToString("N")[..10],
            DateTimeOffset.UtcNow.AddSeconds(startsInSeconds), DateTimeOffset.UtcNow.AddSeconds(endsInSeconds),
            paymentTimeout ?? TimeSpan.FromMinutes(15),
            [new ProductDefinition("item", "Item", 25m, "EUR", stock, limit)]);
        await Store.PreloadAsync(sale);
        _sales.Add(sale.Name);
        if (declareTopology)
        {
            var factory = new ConnectionFactory { Uri = new Uri(RabbitMq) };
            await using var connection = await factory.CreateConnectionAsync();
            await new SaleTopology(Namespace, sale.Name).DeclareAsync(connection, sale.PaymentTimeout);
        }
        return sale;
    }

    public async Task<long> ScalarAsync(string sql, params (string, object)[] args)
    {
        await using var cmd = Db.CreateCommand(sql);
        foreach (var (n, v) in args) cmd.Parameters.AddWithValue(n, v);
        return Convert.ToInt64(await cmd.ExecuteScalarAsync());
    }

    public Task<long> OrdersInPostgresAsync(string sale) =>
        ScalarAsync("SELECT count(*) FROM orders.orders WHERE namespace = @ns AND sale = @sale", ("ns", Namespace), ("sale", sale));

    /// <summary>Waits until the sale's stream is drained and PostgreSQL holds <paramref name="expected"/> orders.</summary>
    public async Task WaitForOrdersAsync(string sale, long expected, TimeSpan? timeout = null, bool drained = true)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        var keys = new SaleKeys(Namespace, sale);
        while (true)
        {
            long inPg = -1, pending = -1;
            try
            {
                inPg = await OrdersInPostgresAsync(sale);
                pending = await Mux.GetDatabase().StreamLengthAsync(keys.Stream);
                if (inPg == expected && (pending == 0 || !drained)) return;
            }
            catch (Exception) when (DateTime.UtcNow < deadline) { }
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"expected {expected} orders in PostgreSQL, found {inPg}; {pending} stream entries pending");
            await Task.Delay(100);
        }
    }

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
        // Leave the shared servers as we found them: remove this world's sales and queues.
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

    public static HttpClient SharedClient(Uri baseAddress, int connections = 256) =>
        new(new SocketsHttpHandler { MaxConnectionsPerServer = connections, PooledConnectionLifetime = TimeSpan.FromMinutes(5) })
        { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(60) };
}
