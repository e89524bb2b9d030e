using System.Diagnostics;
using System.Net.Http.Json;
using System.Text;
using FlashSale.Messaging;
using FlashSale.Sales;
using RabbitMQ.Client;
using StackExchange.Redis;

namespace FlashSale.LoadTest;

/// <summary>The stock service's products view; <c>Now</c> is the platform's clock (absent from a stock service older than it).</summary>
public sealed record SaleView(string Sale, DateTimeOffset StartsAt, DateTimeOffset EndsAt, string Status, IReadOnlyList<ProductView> Products, DateTimeOffset? Now = null);
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

    /// <summary>Registers (when new) and logs the buyers in; valid tokens are cached.</summary>
    public static async Task<int> BuyersAsync(Args a)
    {
        var usersUrl = new Uri(a.Str("users-url", "http://127.0.0.1:5101"));
        var count = a.Int("buyers", 2000);
        var prefix = a.Str("prefix", "lt-buyer");
        var cache = a.Str("cache", ".run/loadtest/tokens.json");
        var parallel = a.Int("parallel", Math.Max(2, Environment.ProcessorCount * 2));
        var validity = a.Duration("min-validity", TimeSpan.FromMinutes(20));
        a.EnsureAllUsed();
        await new Buyers(usersUrl, cache, parallel).EnsureAsync(prefix, count, validity, CancellationToken.None);
        return 0;
    }

    public const string AdminSecretDir = ".run/secrets/flashsale-admin";

    /// <summary>
    /// The admin's credential: the users service bootstraps that one admin from its configuration (Users:Admin:Username and
    /// Password), locally from the files under <see cref="AdminSecretDir"/>; the load tool only logs it in.
    /// </summary>
    public static (string Username, string Password) AdminCredential(Args a)
    {
        static string Read(string file, string option)
        {
            try { return File.ReadAllText(file).TrimEnd('\r', '\n'); }
            catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
            {
                throw new UsageException($"{file} not found: give {option} (the users service's Users:Admin credential)");
            }
        }
        var username = a.Get("admin-username") ?? Read(Path.Combine(AdminSecretDir, "username"), "--admin-username");
        var password = Read(a.Str("admin-password-file", Path.Combine(AdminSecretDir, "password")), "--admin-password-file");
        if (username.Trim().Length == 0 || password.Length == 0) throw new UsageException("the admin's username and password must not be empty");
        return (username.Trim(), password);
    }

    /// <summary>The demo sale: the whole buyer's lifecycle (<see cref="Lifecycle"/>), its report, and the audit's exit code.</summary>
    public static async Task<int> SaleAsync(Args a)
    {
        var (adminName, adminPassword) = AdminCredential(a);
        var o = new LifecycleOptions
        {
            Sale = a.Required("sale"),
            AdminUsername = adminName,
            AdminPassword = adminPassword,
            UsersUrl = new Uri(a.Str("users-url", "http://127.0.0.1:5101")),
            OrdersUrl = new Uri(a.Str("orders-url", "http://127.0.0.1:5102")),
            StockUrl = new Uri(a.Str("stock-url", "http://127.0.0.1:5103")),
            NotificationsUrl = new Uri(a.Str("notifications-url", "http://127.0.0.1:5104")),
            Buyers = a.Int("buyers", 2000),
            Prefix = a.Str("prefix", "lt-buyer"),
            TokenCache = a.Str("cache", ".run/loadtest/tokens.json"),
            Attempts = a.Long("attempts", 30_000),
            Connections = a.Int("connections", 256),
            Rate = a.Get("rate") is not null ? a.Double("rate", 0) : null,
            LoginParallelism = a.Int("parallel", Math.Max(2, Environment.ProcessorCount * 2)),
            DrainTimeout = a.Duration("drain-timeout", TimeSpan.FromSeconds(120)),
            PayShare = a.Double("pay-share", 0.6),
            PaymentTimeout = a.Duration("payment-timeout", TimeSpan.FromSeconds(30)),
            ResaleTimeout = a.Duration("resale-timeout", TimeSpan.FromSeconds(120)),
            ResaleConnections = a.Int("resale-connections", 32),
            ResaleRate = a.Double("resale-rate", 300),
            MailTimeout = a.Duration("mail-timeout", TimeSpan.FromSeconds(120)),
            Maildir = a.Str("maildir", ".run/mail"),
            NotificationSample = a.Int("notification-sample", 20),
            Seed = a.Int("seed", Environment.TickCount),
        };
        var jsonPath = a.Get("json");
        a.EnsureAllUsed();
        if (o.PayShare is < 0 or > 1) throw new UsageException($"--pay-share {o.PayShare} is not between 0 and 1");

        Console.WriteLine($"  sale {o.Sale}: {o.Buyers} buyers, {o.Attempts} attempts, " +
            (o.Rate is { } r0 ? $"open loop at {r0} req/s over {o.Connections} connections" : $"closed loop over {o.Connections} connections") +
            $"; {o.PayShare:P0} of the orders paid, the others expire after {o.PaymentTimeout.TotalSeconds:F0}s and are sold again");
        var r = await Lifecycle.RunAsync(o, CancellationToken.None);
        Console.WriteLine(Describe(r, o));
        Report.WriteJson(jsonPath, r.Summary());
        return r.Ok ? 0 : 1;
    }

    /// <summary>The sale's report: the burst's answers and latency, the audits, then the orders, money and mails of the lifecycle.</summary>
    public static string Describe(LifecycleResult r, LifecycleOptions o)
    {
        var w = new StringWriter();
        w.WriteLine();
        w.WriteLine($"== flash sale {r.Sale}: {o.Attempts} attempts by {r.Buyers} buyers against {r.TotalStock} units ==");
        if (r.Early is { } early)
            w.WriteLine($"  before the opening: {early.Completed} early attempts in {early.Elapsed.TotalSeconds:F0}s answered " +
                string.Join(", ", early.Answers.OrderByDescending(x => x.Value).Select(x => $"{x.Key} x{x.Value}")) + " (not counted below)");
        w.WriteLine($"  the burst started when the platform's clock opened the sale ({r.OpeningWait.TotalSeconds:F1}s of polling); NOT_STARTED inside the sale: {r.NotStartedInSale}");
        if (r.Burst is { } burst)
        {
            w.WriteLine(Report.Answers(burst));
            w.WriteLine(Report.Latency(burst));
        }
        if (r.AfterBurst is { } after)
        {
            w.WriteLine();
            w.WriteLine("  audit after the burst (stock service):");
            w.WriteLine(Auditor.Describe(after));
        }
        w.WriteLine();
        w.WriteLine("  lifecycle:");
        List<string[]> rows =
        [
            ["orders", "count"],
            ["accepted in the burst", r.Accepted.ToString()],
            [$"paid ({o.PayShare:P0})", r.Paid.ToString()],
            ["left unpaid", r.LeftUnpaid.ToString()],
            ["expired", r.Expired.ToString()],
            ["resold", r.Resold.ToString()],
            ["resold and paid", r.ResoldPaid.ToString()],
        ];
        w.Write(Report.Table(rows));
        w.WriteLine($"  money: paid orders total {r.PaidTotal}, wallets debited {r.Debited}; {r.TopUps} wallets topped up by {r.ToppedUp}");
        if (r.Resale is { } resale)
            w.WriteLine($"  buyers still trying: {resale.Completed} requests in {resale.Elapsed.TotalSeconds:F0}s answered " +
                string.Join(", ", resale.Answers.OrderByDescending(x => x.Value).Take(5).Select(x => $"{x.Key} x{x.Value}")) +
                (r.ReturnedUnitsResold ? "; all bought again" : "; NOT all bought again"));
        if (r.Mails is { } m)
        {
            var mails = new List<string[]> { new[] { "mails", "expected", "found", "missing", "duplicated", "wrong address", "unexpected" } };
            foreach (var e in m.Events)
                mails.Add([e.Event.ToString().ToLowerInvariant(), e.Expected.ToString(), e.Found.ToString(), e.Missing.ToString(), e.Duplicated.ToString(),
                    e.WrongRecipient.ToString(), e.Unexpected.ToString()]);
            mails.Add(["all", m.Expected.ToString(), m.Found.ToString(), m.Missing.ToString(), m.Duplicated.ToString(), m.WrongRecipient.ToString(), m.Unexpected.ToString()]);
            w.Write(Report.Table(mails));
            foreach (var p in m.Problems.Take(5)) w.WriteLine($"    {p}");
        }
        w.WriteLine($"  notifications (GET /api/notifications, sampled buyers): {r.NotificationsSent}/{r.NotificationsChecked} listed as sent");
        if (r.Final is { } final)
        {
            w.WriteLine();
            w.WriteLine("  audit after the expiries and the resale (stock service):");
            w.WriteLine(Auditor.Describe(final));
        }
        w.WriteLine("  phases (s): " + string.Join(", ", r.PhaseSeconds.Select(p => $"{p.Key} {p.Value:F1}")));
        w.Write(r.Ok
            ? $"  RESULT: OK - sold {r.Final?.Sold}/{r.TotalStock} after {r.Expired} expiries and {r.Resold} resales, every accepted order in PostgreSQL once, " +
              "every paid order debited once, every mail delivered once to its buyer, nobody over the limit"
            : "  RESULT: FAILED - " + string.Join("; ", r.Failures));
        return w.ToString();
    }

    public static async Task<SaleView> GetSaleAsync(Uri stockUrl, string sale)
    {
        using var http = new HttpClient { BaseAddress = stockUrl, Timeout = TimeSpan.FromSeconds(30) };
        return (await http.GetFromJsonAsync<SaleView>($"/api/sales/{sale}/products", Report.Json))!;
    }
}
