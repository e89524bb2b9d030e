using System.Diagnostics;
using System.Net.Http.Json;
using System.Text;
using FlashSale.Messaging;
using FlashSale.Sales;
using RabbitMQ.Client;
using StackExchange.Redis;

namespace FlashSale.LoadTest;

public sealed record SaleView(string Sale, DateTimeOffset StartsAt, DateTimeOffset EndsAt, string Status, IReadOnlyList<ProductView> Products);
public sealed record ProductView(string Sku, string Name, decimal Price, string Currency, long Stock, long Remaining, int PerUserLimit, bool SoldOut);

public static class SaleCommands
{
    /// <summary>
    /// Stand-in for the operator's local mode: reads a sale file, moves its window relative to now, validates it, preloads
    /// the stock into Redis and declares the sale's RabbitMQ topology.
    /// </summary>
    public static async Task<int> PrepareAsync(Args a)
    {
        var file = a.Str("file", "examples/flashsale.yaml");
        var name = a.Get("sale");
        var ns = a.Get("namespace");
        var startsIn = a.Duration("starts-in", TimeSpan.FromSeconds(10));
        var endsIn = a.Duration("ends-in", TimeSpan.FromMinutes(10));
        var redis = a.Str("redis", Environment.GetEnvironmentVariable("FLASHSALE_REDIS") ?? "127.0.0.1:63790");
        var rabbit = a.Str("rabbitmq", Environment.GetEnvironmentVariable("FLASHSALE_RABBITMQ") ?? "amqp://guest:guest@127.0.0.1:56720/");
        var output = a.Get("out");
        var writeOnly = a.Flag("write-only");
        a.EnsureAllUsed();
        if (writeOnly && output is null) throw new UsageException("--write-only needs --out FILE");

        var sale = SaleFile.Load(file);
        var now = DateTimeOffset.UtcNow;
        sale = sale with
        {
            Name = name ?? $"{sale.Name}-{now:yyyyMMddHHmmss}",
            Namespace = ns ?? sale.Namespace,
            StartsAt = now + startsIn,
            EndsAt = now + endsIn,
        };
        var errors = sale.Validate();
        if (errors.Count > 0) throw new SaleFileException(file, errors);
        if (output is not null)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(output))!);
            File.WriteAllText(output, SaleFile.ToYaml(sale));
            Console.WriteLine($"  sale file with the window moved to now: {output}");
            if (writeOnly) return 0;
        }
        await PreloadAsync(sale, redis, rabbit);
        Console.WriteLine($"  sale {sale.Id} from {file}: opens {sale.StartsAt:HH:mm:ss}Z, closes {sale.EndsAt:HH:mm:ss}Z; " +
            string.Join(", ", sale.Products.Select(p => $"{p.Sku} x{p.Stock} (limit {p.PerUserLimit})")));
        return 0;
    }

    /// <summary>Deletes a sale's Redis keys and RabbitMQ topology (its orders in PostgreSQL stay).</summary>
    public static async Task<int> CleanupAsync(Args a)
    {
        var sale = a.Required("sale");
        var ns = a.Str("namespace", "default");
        var redis = a.Str("redis", Environment.GetEnvironmentVariable("FLASHSALE_REDIS") ?? "127.0.0.1:63790");
        var rabbit = a.Str("rabbitmq", Environment.GetEnvironmentVariable("FLASHSALE_RABBITMQ") ?? "amqp://guest:guest@127.0.0.1:56720/");
        a.EnsureAllUsed();
        using (var mux = await ConnectionMultiplexer.ConnectAsync(redis + ",abortConnect=false"))
        {
            var deleted = await new SaleStore(mux).DeleteAsync(new SaleKeys(ns, sale));
            Console.WriteLine($"  redis: {deleted} keys of {ns}/{sale} deleted");
        }
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var factory = new ConnectionFactory { Uri = new Uri(rabbit), RequestedConnectionTimeout = TimeSpan.FromSeconds(20) };
        await using var connection = await factory.CreateConnectionAsync(timeout.Token);
        await new SaleTopology(ns, sale).DeleteAsync(connection, timeout.Token);
        Console.WriteLine($"  rabbitmq: topology of {ns}/{sale} deleted");
        return 0;
    }

    public static async Task PreloadAsync(SaleDefinition sale, string redis, string rabbitMq)
    {
        using (var mux = await ConnectionMultiplexer.ConnectAsync(redis + ",abortConnect=false"))
            await new SaleStore(mux).PreloadAsync(sale);
        // A broker that accepts TCP but never completes the handshake must not hang the run.
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            var factory = new ConnectionFactory { Uri = new Uri(rabbitMq), RequestedConnectionTimeout = TimeSpan.FromSeconds(20), ContinuationTimeout = TimeSpan.FromSeconds(20) };
            await using var connection = await factory.CreateConnectionAsync(timeout.Token);
            await new SaleTopology(sale.Namespace, sale.Name).DeclareAsync(connection, sale.PaymentTimeout, timeout.Token);
        }
        catch (OperationCanceledException e) when (timeout.IsCancellationRequested)
        {
            throw new TimeoutException($"declaring the RabbitMQ topology of {sale.Id} at {new Uri(rabbitMq).Authority} took over 60 s: is the broker healthy?", e);
        }
    }

    /// <summary>Logs the buyers in (cached), then waits for readiness.</summary>
    public static async Task<int> BuyersAsync(Args a)
    {
        var usersUrl = new Uri(a.Str("users-url", "http://127.0.0.1:5101"));
        var count = a.Int("buyers", 2000);
        var prefix = a.Str("prefix", "lt-buyer");
        var admin = a.Str("admin", "lt-admin");
        var cache = a.Str("cache", ".run/loadtest/tokens.json");
        var parallel = a.Int("parallel", Math.Max(2, Environment.ProcessorCount * 2));
        var validity = a.Duration("min-validity", TimeSpan.FromMinutes(20));
        a.EnsureAllUsed();
        await new Buyers(usersUrl, cache, parallel).EnsureAsync(prefix, count, [admin], validity, CancellationToken.None);
        return 0;
    }

    /// <summary>The demo sale: buyers log in, wait for the opening, burst, then the outbox drains and the audit decides the exit code.</summary>
    public static async Task<int> SaleAsync(Args a)
    {
        var usersUrl = new Uri(a.Str("users-url", "http://127.0.0.1:5101"));
        var ordersUrl = new Uri(a.Str("orders-url", "http://127.0.0.1:5102"));
        var stockUrl = new Uri(a.Str("stock-url", "http://127.0.0.1:5103"));
        var saleName = a.Required("sale");
        var buyerCount = a.Int("buyers", 2000);
        var prefix = a.Str("prefix", "lt-buyer");
        var adminName = a.Str("admin", "lt-admin");
        var cache = a.Str("cache", ".run/loadtest/tokens.json");
        var attempts = a.Long("attempts", 30_000);
        var connections = a.Int("connections", 256);
        var rate = a.Get("rate") is not null ? a.Double("rate", 0) : (double?)null;
        var parallel = a.Int("parallel", Math.Max(2, Environment.ProcessorCount * 2));
        var drainTimeout = a.Duration("drain-timeout", TimeSpan.FromSeconds(120));
        var jsonPath = a.Get("json");
        var seed = a.Int("seed", Environment.TickCount);
        a.EnsureAllUsed();

        var buyers = await new Buyers(usersUrl, cache, parallel).EnsureAsync(prefix, buyerCount, [adminName], TimeSpan.FromMinutes(20), CancellationToken.None);
        var adminToken = buyers[adminName].Token;
        var pool = buyers.Values.Where(b => b.Username != adminName).ToArray();

        var view = await GetSaleAsync(stockUrl, saleName);
        var totalStock = view.Products.Sum(p => p.Stock);
        Console.WriteLine($"  sale {saleName}: {string.Join(", ", view.Products.Select(p => $"{p.Sku} x{p.Stock} (limit {p.PerUserLimit})"))}; " +
            $"{pool.Length} buyers, {attempts} attempts, " + (rate is { } r0 ? $"open loop at {r0} req/s over {connections} connections" : $"closed loop over {connections} connections"));

        // Bodies are built once; each attempt picks a buyer and a product at random and gets its own idempotency key.
        var bodies = view.Products.Select(p => Encoding.UTF8.GetBytes($$"""{"sku":"{{p.Sku}}","quantity":1}""")).ToArray();
        var weights = view.Products.Select(p => (double)p.Stock / totalStock).ToArray();
        var orderUri = new Uri(ordersUrl, $"/api/sales/{saleName}/orders");
        var bearers = pool.Select(b => Requests.Bearer(b.Token)).ToArray();
        var baseSeed = seed;
        HttpRequestMessage NewRequest(long i)
        {
            var rnd = new Random(unchecked(baseSeed + (int)i * 7919));
            var buyer = rnd.Next(pool.Length);
            var x = rnd.NextDouble();
            var product = 0;
            for (; product < weights.Length - 1 && x >= weights[product]; product++) x -= weights[product];
            return Requests.JsonPost(orderUri, bodies[product], bearers[buyer], Requests.NewIdempotencyKey());
        }

        // Warm up connections on an endpoint that does not touch the sale, then wait for the opening like buyers refreshing a page.
        await WarmUpAsync(ordersUrl, connections);
        var opensAt = view.StartsAt - TimeSpan.FromMilliseconds(200);
        // Buyers who try before the opening (answered 409 NOT_STARTED) until 1.5 s before it: as in a real sale, and they take
        // the services through their JIT warm-up (profiled: a cold orders process spent a third of the burst compiling).
        LoadResult? early = null;
        var earlyFor = opensAt - TimeSpan.FromSeconds(1.5) - DateTimeOffset.UtcNow;
        if (earlyFor > TimeSpan.FromSeconds(1))
            early = await LoadRunner.RunAsync(new LoadPlan("early attempts", ordersUrl, Math.Min(connections, 64), i => NewRequest(-1 - i), Duration: earlyFor));
        for (var left = opensAt - DateTimeOffset.UtcNow; left > TimeSpan.Zero; left = opensAt - DateTimeOffset.UtcNow)
        {
            Console.Error.Write($"\r  sale opens in {Math.Ceiling(left.TotalSeconds):F0}s   ");
            await Task.Delay(left < TimeSpan.FromSeconds(1) ? left + TimeSpan.FromMilliseconds(1) : TimeSpan.FromSeconds(1));
        }
        Console.Error.WriteLine("\r  sale is open: burst starts          ");

        var result = await LoadRunner.RunAsync(new LoadPlan("sale", ordersUrl, connections, NewRequest, Total: attempts, Rate: rate));
        var accepted = result.Accepted + (early?.Accepted ?? 0); // none unless the clocks disagree by over a second
        var audit = await Auditor.WaitForDrainAsync(stockUrl, saleName, adminToken, accepted, drainTimeout, CancellationToken.None);

        Console.WriteLine();
        Console.WriteLine($"== flash sale {saleName}: {attempts} attempts by {pool.Length} buyers against {totalStock} units ==");
        if (early is not null)
            Console.WriteLine($"  before the opening: {early.Completed} early attempts in {early.Elapsed.TotalSeconds:F0}s answered " +
                string.Join(", ", early.Answers.OrderByDescending(x => x.Value).Select(x => $"{x.Key} x{x.Value}")) + " (not counted below)");
        Console.WriteLine(Report.Answers(result));
        Console.WriteLine(Report.Latency(result));
        Console.WriteLine();
        Console.WriteLine("  audit (stock service):");
        Console.WriteLine(Auditor.Describe(audit));
        var failures = new List<string>();
        if (!audit.Consistent) failures.Add("the audit is not consistent");
        if (!audit.Drained) failures.Add($"the outbox did not drain within {drainTimeout.TotalSeconds:F0}s");
        if (audit.Sold != accepted) failures.Add($"{accepted} orders accepted (202) but {audit.Sold} units sold");
        if (audit.OrdersInPostgres != accepted) failures.Add($"{accepted} orders accepted (202) but {audit.OrdersInPostgres} in PostgreSQL");
        if (early?.Errors > 0) failures.Add($"{early.Errors} early attempts failed (transport errors or 5xx)");
        if (audit.Oversold > 0) failures.Add($"{audit.Oversold} units oversold");
        if (result.Errors > 0) failures.Add($"{result.Errors} requests failed (transport errors or 5xx)");
        Console.WriteLine(failures.Count == 0
            ? $"  RESULT: OK - sold {audit.Sold}/{totalStock}, every accepted order is in PostgreSQL once, nobody over the limit"
            : "  RESULT: FAILED - " + string.Join("; ", failures));
        Report.WriteJson(jsonPath, new { sale = saleName, buyers = pool.Length, totalStock, early = early is null ? null : Report.Summary(early), load = Report.Summary(result), audit, failures });
        return failures.Count == 0 ? 0 : 1;
    }

    public static async Task<SaleView> GetSaleAsync(Uri stockUrl, string sale)
    {
        using var http = new HttpClient { BaseAddress = stockUrl, Timeout = TimeSpan.FromSeconds(30) };
        return (await http.GetFromJsonAsync<SaleView>($"/api/sales/{sale}/products", Report.Json))!;
    }

    static async Task WarmUpAsync(Uri baseUrl, int connections)
    {
        using var client = LoadRunner.CreateClient(baseUrl, connections);
        await Task.WhenAll(Enumerable.Range(0, connections).Select(async _ =>
        {
            for (var i = 0; i < 4; i++) { using var r = await client.GetAsync("/healthz/live"); }
        }));
    }
}
