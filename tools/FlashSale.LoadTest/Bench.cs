using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using FlashSale.Sales;
using Npgsql;
using StackExchange.Redis;

namespace FlashSale.LoadTest;

/// <summary>
/// `make bench`: on one machine, at one concurrency, for one duration each: the HTTP ceiling (/healthz/live of the orders
/// service), the order path with each stock gate (a fresh orders process per gate), and the outbox drain into PostgreSQL.
/// </summary>
public static class Bench
{
    sealed record Row(string Name, LoadResult? Load, long Oversold, bool? Consistent, string Note, double? Rate = null, CpuSampler.Usage? Cpu = null,
        (GcSampler.Usage? Service, GcSampler.Usage? Client) Gc = default);

    /// <summary>One measured run: its load, the CPU by process, and the GCs of the service and of this generator.</summary>
    sealed record Measured(LoadResult Load, CpuSampler.Usage? Cpu, GcSampler.Usage? ServiceGc, GcSampler.Usage? ClientGc);

    public static async Task<int> RunAsync(Args a)
    {
        var ordersDll = a.Str("orders-dll", ".run/app/orders/FlashSale.Orders.dll");
        var stockDll = a.Str("stock-dll", ".run/app/stock/FlashSale.Stock.dll");
        var notificationsDll = a.Str("notifications-dll", ".run/app/notifications/FlashSale.Notifications.dll");
        // The production row's lag run: open loop at this share of the publishing-off closed-loop rate, for this long.
        var lagDuration = a.Duration("lag-duration", TimeSpan.FromSeconds(60));
        var lagShare = a.Double("lag-share", 0.5);
        var duration = a.Duration("duration", TimeSpan.FromSeconds(10));
        // Long enough for tiered JIT to finish: a shorter warm-up measures the order path still speeding up.
        var warmup = a.Duration("warmup", TimeSpan.FromSeconds(10));
        var connections = a.Int("connections", 256);
        var buyerCount = a.Int("buyers", 10_000);
        var stock = a.Long("stock", 10_000_000);
        var drainOrders = a.Int("drain-orders", 200_000);
        var basePort = a.Int("base-port", 5201);
        // Latency below saturation: the redis order path again, open loop at given rates over the same connections
        // (default: a quarter and half of the closed-loop throughput just measured; or a comma-separated list of rates).
        var pacedRates = a.Get("paced-rate")?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(r => double.TryParse(r, CultureInfo.InvariantCulture, out var x) && x > 0 ? x : throw new UsageException($"--paced-rate: '{r}' is not a positive rate"))
            .ToList();
        // The latency target as a capacity: the highest open-loop rate of the redis order path whose p99 stays under this many
        // milliseconds over the same connections, found by bisection between the paced rates and the closed-loop rate (0: skip).
        var sloP99 = a.Double("slo-p99", 25);
        var sloSteps = a.Int("slo-steps", 4);
        var rounds = Math.Max(1, a.Int("rounds", 3));
        var roundRatios = new List<double>();
        // "redis-relay-off": the redis gate with the relay paused during the run (the request path alone; the sale is deleted after).
        // "production": the redis gate as deployed: publishing on, the stock, notifications and expiry consumers running.
        var gates = a.Str("gates", "redis,production,redis-relay-off,postgres-row-lock,postgres-optimistic").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var adminPostgres = a.Str("postgres", Environment.GetEnvironmentVariable("FLASHSALE_POSTGRES") ?? "Host=127.0.0.1;Port=54329;Database=flashsale;Username=flashsale;Password=flashsale-dev");
        var redis = a.Str("redis", Environment.GetEnvironmentVariable("FLASHSALE_REDIS") ?? "127.0.0.1:63790");
        var rabbit = a.Str("rabbitmq", Environment.GetEnvironmentVariable("FLASHSALE_RABBITMQ") ?? "amqp://guest:guest@127.0.0.1:56720/");
        var logs = a.Str("logs", ".run/bench");
        var json = a.Get("json");
        a.EnsureAllUsed();

        var stamp = DateTime.UtcNow.ToString("MMddHHmmss", CultureInfo.InvariantCulture);
        var ns = "bench-" + stamp;
        Console.WriteLine($"== FlashSale bench: {Environment.ProcessorCount} cores, {connections} connections, {duration.TotalSeconds:F0}s per run " +
            $"(+{warmup.TotalSeconds:F0}s warm-up), {buyerCount} buyers, stock {stock}, namespace {ns} ==");
        Console.WriteLine("   client, services, PostgreSQL and Redis share this machine's cores; numbers measured while others build are noisy.");

        var postgres = await CreateBenchDatabaseAsync(adminPostgres, "flashsale_bench_" + stamp);

        var minter = new TokenMinter();
        var sw = Stopwatch.StartNew();
        var tokens = new string[buyerCount];
        Parallel.For(0, buyerCount, i => tokens[i] = minter.Mint(Guid.CreateVersion7(), $"bench-{i}", lifetime: TimeSpan.FromHours(2)));
        var bearers = tokens.Select(Requests.Bearer).ToArray();
        var admin = minter.Mint(Guid.CreateVersion7(), "bench-admin", admin: true, lifetime: TimeSpan.FromHours(2));
        Console.WriteLine($"   minted {buyerCount} buyer tokens in {sw.Elapsed.TotalSeconds:F1}s");

        using var mux = await ConnectionMultiplexer.ConnectAsync(redis + ",abortConnect=false,allowAdmin=true"); // admin: INFO persistence
        var store = new SaleStore(mux);
        await DeleteLeftoverRedisKeysAsync(store, DateTime.UtcNow);
        // CPU per request by process (Linux /proc): the orders process of the gate being measured, Redis (when it runs on this
        // machine), every PostgreSQL process, and this load generator; "machine" is the whole VM.
        var ordersPid = 0;
        Uri? ordersUrl = null;
        using var scraper = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        // Redis's own time per command over the first gate's order-path runs (INFO commandstats, before and after each run).
        var redisPerOrder = new Dictionary<string, (long Calls, long Usec)>();
        long redisOrders = 0;
        var redisPid = await LocalRedisPidAsync(mux);
        var redisPriority = redisPid is { } rp ? CpuSampler.Priority(rp) : null;
        if (redisPriority is { } priority)
            Console.WriteLine($"   Redis runs here with {priority}" +
                (priority.IsRaised ? "" : " (scripts/infra.sh raises it where allowed, root or CAP_SYS_NICE; at the default, Redis losing its core to the other processes shows in the order path)"));
        var cpu = new CpuSampler([
            new("orders", () => ordersPid > 0 ? [ordersPid] : []),
            new("redis", () => redisPid is { } p ? [p] : []),
            new("postgres", () => CpuSampler.ByName("postgres")),
            new("client", () => [Environment.ProcessId]),
        ]);
        async Task<GcSampler.Snapshot?> ServiceGcAsync() => ordersUrl is null ? null : await GcSampler.ScrapeAsync(scraper, ordersUrl);
        async Task<Measured> MeasuredAsync(Func<Task<LoadResult>> run)
        {
            var gcBefore = await ServiceGcAsync();
            var ownBefore = GcSampler.Own();
            var before = cpu.Take();
            var load = await run();
            var usage = CpuSampler.Between(before, cpu.Take(), load.Elapsed);
            var own = GcSampler.Between(ownBefore, GcSampler.Own(), load.Elapsed);
            return new(load, usage, GcSampler.Between(gcBefore, await ServiceGcAsync(), load.Elapsed), own);
        }
        var common = new Dictionary<string, string>
        {
            ["ConnectionStrings__Postgres"] = postgres,
            ["ConnectionStrings__Redis"] = redis,
            ["ConnectionStrings__RabbitMq"] = rabbit,
            ["Orders__Namespace"] = ns,
            ["Stock__Namespace"] = ns,
            ["RabbitMq__Namespace"] = ns,
            ["Auth__Issuer"] = TokenMinter.Issuer,
            ["Auth__Audience"] = TokenMinter.Audience,
            ["Auth__Jwks"] = minter.Jwks,
            // The bench measures the request path and the database drain; publishing to the shared broker is left out for every gate.
            ["Orders__Relay__Publish"] = "false",
            // Expiry only where it is measured (the production row): another row's sweep would expire that row's orders meanwhile.
            ["Orders__Expiry__Enabled"] = "false",
        };
        var sales = new List<SaleKeys>();
        var rows = new List<Row>();
        SloSearch? slo = null;
        var failed = false;
        // The production sale's topology and consumers exist before the services that check them start. Its payment timeout
        // outlasts the lag run, so that the expiry consumer's work comes after it, as after a real burst.
        var prodSale = gates.Contains("production") ? $"prod-{stamp}" : null;
        var prodPaymentTimeout = lagDuration + TimeSpan.FromSeconds(30);
        var prodTopology = prodSale is null ? null : new FlashSale.Messaging.SaleTopology(ns, prodSale);
        await using var rabbitConnection = prodTopology is null ? null : await new RabbitMQ.Client.ConnectionFactory { Uri = new Uri(rabbit) }.CreateConnectionAsync();
        if (prodTopology is not null) await prodTopology.DeclareAsync(rabbitConnection!, prodPaymentTimeout);
        var stockSettings = new Dictionary<string, string>(common);
        if (prodSale is not null) stockSettings["Stock__Sale"] = prodSale;
        await using var stockService = ServiceProcess.Start("stock", stockDll, basePort + 9, stockSettings, logs);
        await stockService.WaitReadyAsync(TimeSpan.FromSeconds(60));
        await using var notificationsService = prodSale is null ? null
            : ServiceProcess.Start("notifications", notificationsDll, basePort + 11, new Dictionary<string, string>(common) { ["RabbitMq__Sale"] = prodSale }, logs);
        if (notificationsService is not null) await notificationsService.WaitReadyAsync(TimeSpan.FromSeconds(60));
        IReadOnlyList<PipelineLag.StepReport>? lagReport = null;
        double lagRate = 0;
        long lagAccepted = 0;
        TimeSpan? prodDrained = null;

        for (var g = 0; g < gates.Length; g++)
        {
            var gate = gates[g];
            var relayOff = gate == "redis-relay-off";
            var production = gate == "production";
            var saleName = production ? prodSale! : $"{Short(gate)}-{stamp}";
            var sale = new SaleDefinition(ns, saleName, DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddHours(2),
                production ? prodPaymentTimeout : TimeSpan.FromMinutes(15), [new ProductDefinition("item", "Bench item", 10m, "EUR", stock, 1_000_000)]);
            await store.PreloadAsync(sale);
            sales.Add(new SaleKeys(ns, saleName));
            var settings = new Dictionary<string, string>(common) { ["Orders__StockGate"] = relayOff || production ? "redis" : gate };
            if (relayOff) settings["Orders__Relay__Enabled"] = "false";
            if (production)
            {
                settings.Remove("Orders__Relay__Publish");
                settings.Remove("Orders__Expiry__Enabled");
                settings["RabbitMq__Sale"] = saleName;
            }
            await using var orders = ServiceProcess.Start($"orders-{gate}", ordersDll, basePort + g, settings, logs);
            await orders.WaitReadyAsync(TimeSpan.FromSeconds(60));
            (ordersPid, ordersUrl) = (orders.Pid, orders.Url);

            var body = Encoding.UTF8.GetBytes("""{"sku":"item","quantity":1}""");
            var orderUri = new Uri(orders.Url, $"/api/sales/{saleName}/orders");
            var liveUri = new Uri(orders.Url, "/healthz/live");
            HttpRequestMessage Order(long i) => Requests.JsonPost(orderUri, body, bearers[i % bearers.Length], Requests.NewIdempotencyKey());
            HttpRequestMessage Live(long _) => new(HttpMethod.Get, liveUri);
            if (g == 0) await RunAsync("warm-up", orders.Url, connections, warmup, Live);
            if (production)
            {
                // The lag run first, on a quiet pipeline: open loop below saturation, each sampled 202 followed through every step.
                var offRps = rows.FirstOrDefault(r => r.Name == "order path, gate redis")?.Load?.RequestsPerSecond;
                lagRate = Math.Max(100, Math.Floor((offRps ?? 8000) * lagShare / 100) * 100);
                await RunAsync("warm-up (open loop)", orders.Url, connections, warmup, Order, lagRate);
                await WaitForStreamAsync(store.Redis.GetDatabase(), new SaleKeys(ns, saleName), TimeSpan.FromMinutes(5));
                await using var lagDb = NpgsqlDataSource.Create(postgres);
                var lag = new PipelineLag(lagDb, store.Redis.GetDatabase(), new SaleKeys(ns, saleName), prodPaymentTimeout);
                using var lagStop = new CancellationTokenSource();
                var polling = lag.RunAsync(lagStop.Token, prodPaymentTimeout + TimeSpan.FromSeconds(60));
                await LoadRunner.RunAsync(new LoadPlan($"production, {lagRate:F0} req/s for the lag", orders.Url, connections, Order, Duration: lagDuration, Rate: lagRate,
                    OnAccepted: lag.OnAccepted));
                await lagStop.CancelAsync();
                Console.Error.WriteLine($"  [lag] following the sampled orders through the pipeline (the expiry step waits {prodPaymentTimeout.TotalSeconds:F0}s, the payment timeout)");
                await polling;
                lagReport = lag.Report();
                lagAccepted = lag.Accepted;
            }
            else await RunAsync("warm-up", orders.Url, connections, warmup, Order);
            await CompactAofAsync(mux);
            var rewrites = await QuietRedisAsync(mux);
            LoadResult result;
            CpuSampler.Usage? resultCpu;
            (GcSampler.Usage?, GcSampler.Usage?) resultGc;
            if (g == 0)
            {
                // The ceiling and the first gate alternate in rounds, so that both see the same share of whatever else this
                // machine is doing at the time (the ceiling alone moved between 26k and 52k req/s from one run to the next).
                var ceilings = new List<Measured>();
                var runs = new List<Measured>();
                for (var r = 1; r <= rounds; r++)
                {
                    ceilings.Add(await MeasuredAsync(() => RunAsync($"http ceiling {r}/{rounds}", orders.Url, connections, duration, Live)));
                    var statsBefore = await CommandStatsAsync(mux);
                    runs.Add(await MeasuredAsync(() => RunAsync($"order path, {gate} {r}/{rounds}", orders.Url, connections, duration, Order)));
                    foreach (var (command, (calls, usec)) in await CommandStatsAsync(mux))
                    {
                        var (c0, u0) = statsBefore.GetValueOrDefault(command);
                        var (c, u) = redisPerOrder.GetValueOrDefault(command);
                        redisPerOrder[command] = (c + calls - c0, u + usec - u0);
                    }
                    redisOrders += runs[^1].Load.Completed;
                    roundRatios.Add(runs[^1].Load.RequestsPerSecond / ceilings[^1].Load.RequestsPerSecond);
                }
                rows.Add(new Row("HTTP ceiling (GET /healthz/live)", LoadResult.Combine("http ceiling", [.. ceilings.Select(c => c.Load)]), 0, null,
                    $"orders service, gate {gate}; {rounds} rounds of {duration.TotalSeconds:F0}s alternating with the next row",
                    Cpu: CpuSampler.Usage.Sum(ceilings.Select(c => c.Cpu)), Gc: SumGc(ceilings)));
                result = LoadResult.Combine($"order path, {gate}", [.. runs.Select(c => c.Load)]);
                resultCpu = CpuSampler.Usage.Sum(runs.Select(c => c.Cpu));
                resultGc = SumGc(runs);
            }
            else
            {
                var run = await MeasuredAsync(() => RunAsync($"order path, {gate}", orders.Url, connections, duration, Order));
                (result, resultCpu, resultGc) = (run.Load, run.Cpu, SumGc([run]));
            }
            var rewroteDuring = await RewriteNoteAsync(mux, rewrites);
            if (production)
            {
                var drainStarted = Stopwatch.StartNew();
                await WaitForStreamAsync(store.Redis.GetDatabase(), new SaleKeys(ns, saleName), TimeSpan.FromMinutes(5));
                prodDrained = drainStarted.Elapsed;
            }
            var paced = new List<(double Rate, LoadResult Load, string Note, (GcSampler.Usage?, GcSampler.Usage?) Gc)>();
            if (gate == "redis")
            {
                var rates = pacedRates ?? [.. new[] { 4, 2 }.Select(d => Math.Max(100, Math.Floor(result.RequestsPerSecond / d / 100) * 100))];
                foreach (var rate in rates)
                {
                    rewrites = await QuietRedisAsync(mux);
                    // No CPU split for these: below saturation, work that the generator's timers start on the kernel's tick is
                    // over-charged by the tick-sampled per-process times (the processes added up to more than the machine's busy time).
                    var run = await MeasuredAsync(() => RunAsync($"order path, redis, {rate:F0} req/s", orders.Url, connections, duration, Order, rate));
                    paced.Add((rate, run.Load, await RewriteNoteAsync(mux, rewrites), SumGc([run])));
                }
                if (sloP99 > 0 && sloSteps > 0)
                    slo = await SearchSloAsync(sloP99, sloSteps, result.RequestsPerSecond, [.. paced.Select(x => (x.Rate, x.Load))],
                        rate => RunAsync($"order path, redis, {rate:F0} req/s (p99 < {sloP99:F0} ms?)", orders.Url, connections, duration, Order, rate));
            }
            var audit = relayOff
                ? await Auditor.GetAsync(stockService.Url, saleName, admin, CancellationToken.None)
                : await Auditor.WaitForDrainAsync(stockService.Url, saleName, admin, 0, TimeSpan.FromSeconds(120), CancellationToken.None);
            Console.WriteLine($"   audit {gate}: sold {audit.Sold}, orders in PostgreSQL {audit.OrdersInPostgres}, oversold {audit.Oversold}, consistent {audit.Consistent}");
            failed |= audit.Oversold > 0 || !audit.Consistent;
            rows.Add(new Row(relayOff ? "order path, gate redis, relay paused" : production ? "order path, production (publishing, consumers)" : $"order path, gate {gate}",
                result, audit.Oversold, audit.Consistent,
                (relayOff ? $"{audit.Sold} units sold, {audit.PendingStreamEntries} left in the stream" : $"{audit.Sold} units sold") + rewroteDuring, Cpu: resultCpu, Gc: resultGc));
            foreach (var (rate, load, note, gc) in paced)
                rows.Add(new Row($"order path, gate redis, open loop at {rate:F0} req/s", load, audit.Oversold, audit.Consistent,
                    $"latency from each request's due time; the client itself sent p99 {Report.F(load.SendLateness.PercentileMs(99), 1)} ms late" + note, Gc: gc));
            // Its undrained stream must not reach the relay of the drain measurement.
            if (relayOff) await store.DeleteAsync(new SaleKeys(ns, saleName));
        }

        var drain = await MeasureDrainAsync(store, postgres, ns, stamp, drainOrders, ordersDll, basePort + 8, common, logs, sales, cpu, pid => ordersPid = pid);
        rows.Add(drain);

        Console.WriteLine();
        var table = new List<string[]> { new[] { "run", "req/s", "p50 ms", "p99 ms", "max ms", "accepted", "errors", "oversold", "note" } };
        foreach (var r in rows)
            table.Add(r.Load is { } l
                ? [r.Name, Report.F(l.RequestsPerSecond, 0), Report.F(l.Latency.PercentileMs(50), 2), Report.F(l.Latency.PercentileMs(99), 2), Report.F(l.Latency.MaxMs, 1),
                   l.Accepted.ToString(), l.Errors.ToString(), r.Consistent is null ? "-" : r.Oversold.ToString(), r.Note]
                : [r.Name, r.Rate is { } rate ? Report.F(rate, 0) + " orders/s" : "-", "-", "-", "-", "-", "-", "-", r.Note]);
        Console.WriteLine(Report.Table(table));
        if (rows.Any(r => r.Cpu is not null)) Console.WriteLine(CpuTable(rows, cpu.GroupNames));
        if (rows.Any(r => r.Gc.Service is not null || r.Gc.Client is not null)) Console.WriteLine(GcTable(rows));
        if (redisOrders > 0 && redisPerOrder.Values.Any(v => v.Usec > 0))
            Console.WriteLine($"  Redis time per request of the {gates[0]} order path (INFO commandstats: time inside each command, including any time " +
                "Redis lost its core to another process; EVALSHA includes the calls its script makes): " +
                string.Join(", ", redisPerOrder.Where(kv => kv.Value.Usec > 0).OrderByDescending(kv => kv.Value.Usec)
                    .Select(kv => $"{kv.Key} {Report.F((double)kv.Value.Usec / redisOrders, 2)} us ({Report.F((double)kv.Value.Calls / redisOrders, 3)} calls)")) + "\n");
        LoadResult? Load(string name) => rows.FirstOrDefault(r => r.Name == name || (name == "HTTP ceiling" && r.Name.StartsWith(name, StringComparison.Ordinal)))?.Load;
        double Rps(string name) => Load(name)?.RequestsPerSecond ?? double.NaN;
        var redisRps = Rps("order path, gate redis");
        var ratios = new Dictionary<string, double>
        {
            ["redis/row-lock"] = redisRps / Rps("order path, gate postgres-row-lock"),
            ["redis/optimistic"] = redisRps / Rps("order path, gate postgres-optimistic"),
            ["redis/ceiling"] = redisRps / Rps("HTTP ceiling"),
            ["redis relay paused/ceiling"] = Rps("order path, gate redis, relay paused") / Rps("HTTP ceiling"),
        };
        var saturation = Load("order path, gate redis"); // the closed-loop run
        var open = rows.Where(r => r.Name.StartsWith("order path, gate redis, open loop", StringComparison.Ordinal) && r.Load is not null).ToList();
        if (open.Count > 0 && saturation is { } closed)
            Console.WriteLine($"  redis order path p99 over {connections} connections: " +
                string.Join(", ", open.Select(r => $"{Report.F(r.Load!.Latency.PercentileMs(99), 2)} ms at {Report.F(r.Load.RequestsPerSecond, 0)} req/s (open loop)")) +
                $", {Report.F(closed.Latency.PercentileMs(99), 2)} ms at saturation ({Report.F(closed.RequestsPerSecond, 0)} req/s, closed loop)");
        if (slo is not null)
            Console.WriteLine($"  redis order path at p99 < {Report.F(slo.P99Ms, 0)} ms over {connections} connections (open loop): " +
                (slo.Best is { } best ? $"up to {Report.F(best.Rate, 0)} req/s, {Report.F(best.Rate / slo.Saturation, 2)} of the closed-loop rate (p99 {Report.F(best.P99Ms, 2)} ms)" : "at none of the rates tried") +
                (slo.FirstOver is { } over ? $"; over it at {Report.F(over.Rate, 0)} req/s (p99 {Report.F(over.P99Ms, 2)} ms)" : "") +
                $"; tried {string.Join(", ", slo.Tried.Select(t => $"{Report.F(t.Rate, 0)}: {Report.F(t.P99Ms, 1)} ms"))}");
        if (roundRatios.Count > 0)
        {
            var sorted = roundRatios.Order().ToList();
            ratios["redis/ceiling, median of rounds"] = sorted[sorted.Count / 2];
            Console.WriteLine($"  redis/ceiling per round: {string.Join(", ", roundRatios.Select(x => Report.F(x, 3)))}");
        }
        if (Load("order path, production (publishing, consumers)") is { } prod)
        {
            ratios["production/publishing off"] = prod.RequestsPerSecond / redisRps;
            Console.WriteLine($"  production accept rate: {Report.F(prod.RequestsPerSecond, 0)} req/s = {Report.F(ratios["production/publishing off"], 2)} of the " +
                $"publishing-off row's {Report.F(redisRps, 0)} (target >= 0.85); stream drained {(prodDrained is { } d ? Report.F(d.TotalSeconds, 1) + " s" : "-")} after the run");
        }
        if (lagReport is not null)
        {
            Console.WriteLine($"  pipeline lag at {Report.F(lagRate, 0)} req/s open loop for {lagDuration.TotalSeconds:F0}s ({lagAccepted} accepted; 1 in {PipelineLag.Every} followed):");
            var lagTable = new List<string[]> { new[] { "202 -> ", "p50 ms", "p99 ms", "max ms", "p99 first third", "p99 last third", "caught up after end", "rate /s", "followed", "missing" } };
            foreach (var l in lagReport)
                lagTable.Add([l.Step, Report.F(l.P50Ms, 1), Report.F(l.P99Ms, 1), Report.F(l.MaxMs, 1), Report.F(l.FirstThirdP99Ms, 1), Report.F(l.LastThirdP99Ms, 1),
                    double.IsNaN(l.CaughtUpAfterEndSeconds) ? "-" : Report.F(l.CaughtUpAfterEndSeconds, 2) + " s", Report.F(l.RatePerSecond, 0), l.Seen.ToString(), l.Missing.ToString()]);
            Console.WriteLine(Report.Table(lagTable));
            var worst = lagReport.Where(l => l.Step.StartsWith("applied", StringComparison.Ordinal)).Select(l => l.Missing > 0 ? double.PositiveInfinity : l.P99Ms).DefaultIfEmpty(double.NaN).Max();
            Console.WriteLine($"  p99 202 -> applied by every consumer: {Report.F(worst, 1)} ms (target < 1000 ms); the lag " +
                (lagReport.All(l => !(l.LastThirdP99Ms > 2 * l.FirstThirdP99Ms + 100)) ? "does not grow" : "GROWS") + " from the first to the last third of the run");
        }
        Console.WriteLine("  ratios (req/s): " + string.Join("   ", ratios.Select(r => $"{r.Key} = {Report.F(r.Value, 2)}")));
        var targets = BenchTargets.Evaluate(ratios["redis/row-lock"], ratios["redis/ceiling"], saturation?.Latency.PercentileMs(99) ?? double.NaN, connections,
            drain.Rate ?? double.NaN, slo?.Best?.Rate, slo?.Saturation,
            Load("HTTP ceiling")?.Latency.PercentileMs(99));
        if (targets.Count > 0)
        {
            Console.WriteLine($"  targets of issue #6 ({Environment.ProcessorCount} cores, the load generator on them too):");
            foreach (var t in targets)
                Console.WriteLine($"    {t.Target,-38} {(t.Met ? "met" : "MISSED " + t.Shortfall),-18} {t.Measured}");
        }

        Report.WriteJson(json, new
        {
            machine = new { cores = Environment.ProcessorCount, os = System.Runtime.InteropServices.RuntimeInformation.OSDescription, dotnet = Environment.Version.ToString(), redisNice = redisPriority?.Nice, redisScheduling = redisPriority?.ToString() },
            connections, durationSeconds = duration.TotalSeconds, buyers = buyerCount, stock,
            runs = rows.Select(r => new
            {
                r.Name, load = r.Load is null ? null : Report.Summary(r.Load), r.Oversold, r.Consistent, ordersPerSecond = r.Rate is { } x ? Math.Round(x) : (double?)null, r.Note,
                cpuMicrosPerRequest = r.Cpu is { } u && Units(r) is var n and > 0
                    ? new[] { "machine" }.Concat(cpu.GroupNames).ToDictionary(gname => gname, gname => Math.Round(u.MicrosPer(gname, n), 1))
                    : null,
                machineBusyShare = r.Cpu is { } b ? Math.Round(b.MachineBusyShare, 3) : (double?)null,
                stealShare = r.Cpu is { } st ? Math.Round(st.StealShare, 3) : (double?)null,
                gc = r.Gc.Service is null && r.Gc.Client is null ? null : new { service = GcJson(r.Gc.Service), client = GcJson(r.Gc.Client) },
            }),
            slo = slo is null ? null : new
            {
                p99Ms = slo.P99Ms, saturationRate = Math.Round(slo.Saturation), highestRateUnder = slo.Best?.Rate, itsP99Ms = slo.Best is { } b ? Math.Round(b.P99Ms, 2) : (double?)null,
                tried = slo.Tried.Select(t => new { rate = t.Rate, p99Ms = Math.Round(t.P99Ms, 2) }),
            },
            ratios = ratios.ToDictionary(r => r.Key, r => double.IsFinite(r.Value) ? Math.Round(r.Value, 3) : (double?)null),
            pipelineLag = lagReport is null ? null : new { rate = lagRate, seconds = lagDuration.TotalSeconds, accepted = lagAccepted, followedEvery = PipelineLag.Every, steps = lagReport },
            targets,
            redisPerRequest = redisOrders == 0 ? null : redisPerOrder.Where(kv => kv.Value.Usec > 0).OrderByDescending(kv => kv.Value.Usec).ToDictionary(
                kv => kv.Key, kv => new { micros = Math.Round((double)kv.Value.Usec / redisOrders, 2), calls = Math.Round((double)kv.Value.Calls / redisOrders, 4) }),
        });

        foreach (var k in sales) await store.DeleteAsync(k);
        await mux.GetDatabase().KeyDeleteAsync(SaleKeys.Registry(ns));
        await stockService.DisposeAsync();
        if (notificationsService is not null) await notificationsService.DisposeAsync();
        if (prodTopology is not null) await prodTopology.DeleteAsync(rabbitConnection!);
        await DropBenchDatabaseAsync(adminPostgres, postgres);
        Console.WriteLine(failed ? "  RESULT: FAILED (oversold or inconsistent audit)" : "  RESULT: OK (nothing oversold, audits consistent)");
        return failed ? 1 : 0;
    }

    /// <summary>
    /// Rewrites Redis's AOF before a gate's runs when it grew by more than 64 MB since its last rewrite (a second or so for the
    /// bench's small data set). Every order appends about 1 KB (the script's writes, the relay's claims, acks and deletes), so a
    /// whole bench appends about 1 GB: enough for the rewrite Redis starts by itself (at 1 GB and twice the last size) to land
    /// in a measurement, where its forked child takes one of the two cores and Redis copies the pages it writes.
    /// </summary>
    static async Task CompactAofAsync(IConnectionMultiplexer mux)
    {
        var info = await InfoAsync(mux, "persistence");
        if (info.GetValueOrDefault("aof_enabled") != "1" || !long.TryParse(info.GetValueOrDefault("aof_current_size"), out var current)
            || !long.TryParse(info.GetValueOrDefault("aof_base_size"), out var @base) || current - @base < 64L << 20) return;
        var sw = System.Diagnostics.Stopwatch.StartNew();
        await QuietRedisAsync(mux);
        await mux.GetServer(mux.GetEndPoints()[0]).ExecuteAsync("BGREWRITEAOF");
        await Task.Delay(500);
        await QuietRedisAsync(mux);
        var after = await InfoAsync(mux, "persistence");
        Console.WriteLine($"   compacted Redis's AOF before the measured runs ({current >> 20} -> {(long.TryParse(after.GetValueOrDefault("aof_current_size"), out var n) ? n >> 20 : -1)} MB, {sw.Elapsed.TotalSeconds:F1}s)");
    }

    /// <summary>
    /// Waits until Redis is not rewriting its AOF or saving a snapshot (a forked child that takes a whole core of this 2-core
    /// machine for seconds; earlier runs' orders grow the AOF until one starts) and returns how many AOF rewrites it has done.
    /// </summary>
    static async Task<long> QuietRedisAsync(IConnectionMultiplexer mux)
    {
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            var info = await InfoAsync(mux, "persistence");
            var busy = info.GetValueOrDefault("aof_rewrite_in_progress") == "1" || info.GetValueOrDefault("rdb_bgsave_in_progress") == "1";
            if (!busy || waited.Elapsed > TimeSpan.FromMinutes(2))
            {
                if (waited.Elapsed > TimeSpan.FromSeconds(1)) Console.WriteLine($"   waited {waited.Elapsed.TotalSeconds:F0}s for Redis to finish rewriting its AOF");
                return long.TryParse(info.GetValueOrDefault("aof_rewrites"), out var n) ? n : 0;
            }
            await Task.Delay(200);
        }
    }

    /// <summary>A note for a run's row when Redis rewrote its AOF since <paramref name="rewritesBefore"/> (waiting until it is done).</summary>
    static async Task<string> RewriteNoteAsync(IConnectionMultiplexer mux, long rewritesBefore) =>
        await QuietRedisAsync(mux) != rewritesBefore ? "; Redis rewrote its AOF during the run" : "";

    /// <summary>
    /// A database of the bench's own (the services migrate it as they start), so that a run measures the same thing however many
    /// runs came before: deleted rows bloat a shared database's order indexes, and every insert then pays for it. Leftovers of
    /// interrupted runs (not in use) are dropped first.
    /// </summary>
    static async Task<string> CreateBenchDatabaseAsync(string adminPostgres, string name)
    {
        await using var db = NpgsqlDataSource.Create(adminPostgres);
        var leftovers = new List<string>();
        await using (var list = db.CreateCommand("SELECT datname FROM pg_database WHERE datname LIKE 'flashsale\\_bench\\_%'"))
        await using (var reader = await list.ExecuteReaderAsync())
            while (await reader.ReadAsync()) leftovers.Add(reader.GetString(0));
        foreach (var old in leftovers)
        {
            try { await using var drop = db.CreateCommand($"DROP DATABASE \"{old}\""); await drop.ExecuteNonQueryAsync(); }
            catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.ObjectInUse) { Console.WriteLine($"   kept {old}: in use"); }
        }
        await using (var create = db.CreateCommand($"CREATE DATABASE \"{name}\"")) await create.ExecuteNonQueryAsync();
        Console.WriteLine($"   PostgreSQL database {name} for this run (dropped at its end)");
        return new NpgsqlConnectionStringBuilder(adminPostgres) { Database = name }.ConnectionString;
    }

    /// <summary>
    /// Deletes the Redis keys of earlier runs that did not get to their end (killed, or failed before cleaning up): their
    /// sales' keys and idempotency keys (a run leaves up to a few hundred thousand, which expire only after a day) and their
    /// namespace's sale registry. A namespace named after a moment less than an hour ago may belong to a run still going on
    /// (another terminal), and is left alone.
    /// </summary>
    internal static async Task<long> DeleteLeftoverRedisKeysAsync(SaleStore store, DateTime now)
    {
        var namespaces = new SortedSet<string>(StringComparer.Ordinal);
        bool Leftover(string key)
        {
            var ns = key[key.IndexOf("bench-", StringComparison.Ordinal)..].Split('/', '}')[0];
            if (!IsLeftover(ns, now)) return false;
            namespaces.Add(ns);
            return true;
        }
        var deleted = await store.DeleteMatchingAsync("fs:{bench-*", Leftover) + await store.DeleteMatchingAsync("fs:sales:bench-*", Leftover);
        if (deleted > 0) Console.WriteLine($"   deleted {deleted} Redis keys left by {namespaces.Count} interrupted run(s): {string.Join(", ", namespaces)}");
        return deleted;
    }

    /// <summary>True for a bench namespace (<c>bench-MMddHHmmss</c>, UTC) named more than an hour before <paramref name="now"/>.</summary>
    internal static bool IsLeftover(string ns, DateTime now)
    {
        if (!ns.StartsWith("bench-", StringComparison.Ordinal)
            || !DateTime.TryParseExact(ns["bench-".Length..] + now.Year.ToString("D4", CultureInfo.InvariantCulture), "MMddHHmmssyyyy",
                CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var named)) return false;
        if (named > now.AddDays(1)) named = named.AddYears(-1); // named in December, read in January
        return now - named > TimeSpan.FromHours(1);
    }

    static async Task DropBenchDatabaseAsync(string adminPostgres, string benchPostgres)
    {
        NpgsqlConnection.ClearAllPools();
        var name = new NpgsqlConnectionStringBuilder(benchPostgres).Database!;
        await using var db = NpgsqlDataSource.Create(adminPostgres);
        await using var drop = db.CreateCommand($"DROP DATABASE \"{name}\" WITH (FORCE)");
        drop.CommandTimeout = 300;
        await drop.ExecuteNonQueryAsync();
    }

    /// <summary>Requests of a load row, or orders of the drain row: what CPU time is divided by.</summary>
    static long Units(Row r) => r.Load?.Completed ?? (r.Rate is not null && r.Cpu is not null ? (long)Math.Round(r.Rate.Value * r.Cpu.Seconds) : 0);

    /// <summary>CPU microseconds per request (per order for the drain) by process, with the machine's busy and stolen shares.</summary>
    static string CpuTable(List<Row> rows, IReadOnlyList<string> groups)
    {
        var table = new List<string[]> { new[] { "CPU us per request", "machine" }.Concat(groups).Concat(["other", "busy", "steal"]).ToArray() };
        foreach (var r in rows)
        {
            if (r.Cpu is not { } u || Units(r) is not (> 0 and var n)) continue;
            var known = groups.Sum(g => u.MicrosPer(g, n));
            table.Add([r.Name, Report.F(u.MicrosPer("machine", n)), .. groups.Select(g => Report.F(u.MicrosPer(g, n))),
                Report.F(u.MicrosPer("machine", n) - known), Report.F(100 * u.MachineBusyShare, 0) + " %", Report.F(100 * u.StealShare, 0) + " %"]);
        }
        return Report.Table(table) +
            "  (CPU time from /proc over each run: machine = the whole VM's busy time, other = machine minus the named processes " +
            "(stock service, RabbitMQ, kernel soft interrupts); busy = share of all cores in use; steal = time the hypervisor gave to other guests; " +
            "open-loop runs are left out: below saturation the tick-sampled process times over-charge timer-driven work)\n";
    }

    internal sealed record SloPoint(double Rate, double P99Ms);

    /// <summary>The SLO search's outcome: every rate tried with its p99, the highest rate under the target and the lowest over it.</summary>
    internal sealed record SloSearch(double P99Ms, double Saturation, IReadOnlyList<SloPoint> Tried)
    {
        public SloPoint? Best => Tried.Where(t => t.P99Ms < P99Ms).MaxBy(t => t.Rate);
        public SloPoint? FirstOver => Tried.Where(t => t.P99Ms >= P99Ms && t.Rate > (Best?.Rate ?? 0)).MinBy(t => t.Rate);
    }

    /// <summary>
    /// Bisects the open-loop rate between the highest rate known to keep p99 under the target (the paced runs', else 0) and
    /// the lowest known to miss it (the closed-loop rate: at saturation an open loop's queue only grows), in steps of 100 req/s.
    /// Each step is one run of the bench's duration; the answer is a rate that was measured, not interpolated.
    /// </summary>
    internal static async Task<SloSearch> SearchSloAsync(double p99Ms, int steps, double saturation, IReadOnlyList<(double Rate, LoadResult Load)> known,
        Func<double, Task<LoadResult>> run)
    {
        var tried = known.Select(k => new SloPoint(k.Rate, k.Load.Latency.PercentileMs(99))).ToList();
        var lo = tried.Where(t => t.P99Ms < p99Ms).Select(t => t.Rate).DefaultIfEmpty(0).Max();
        var hi = tried.Where(t => t.P99Ms >= p99Ms && t.Rate > lo).Select(t => t.Rate).DefaultIfEmpty(saturation).Min();
        for (var i = 0; i < steps; i++)
        {
            var mid = Math.Round((lo + hi) / 2 / 100) * 100;
            if (mid <= lo || mid >= hi) break;
            var load = await run(mid);
            var p99 = load.Latency.PercentileMs(99);
            tried.Add(new SloPoint(mid, p99));
            if (p99 < p99Ms) lo = mid; else hi = mid;
        }
        return new SloSearch(p99Ms, saturation, tried);
    }

    static (GcSampler.Usage?, GcSampler.Usage?) SumGc(IEnumerable<Measured> runs) =>
        (GcSampler.Usage.Sum(runs.Select(r => r.ServiceGc)), GcSampler.Usage.Sum(runs.Select(r => r.ClientGc)));

    static object? GcJson(GcSampler.Usage? u) => u is null ? null : new
    {
        collectionsPerSecond = Math.Round(u.PerSecond, 2), gen1 = u.Gen1, gen2 = u.Gen2,
        pausedShare = Math.Round(u.PausedShare, 4), meanPauseMs = Math.Round(u.MeanPauseMs, 2),
    };

    /// <summary>Collections per second, the share of the run spent paused and the mean pause, of the service and of the generator.</summary>
    static string GcTable(List<Row> rows)
    {
        static string[] Cells(GcSampler.Usage? u) => u is null ? ["-", "-", "-", "-"]
            : [Report.F(u.PerSecond, 1), $"{u.Gen1}/{u.Gen2}", Report.F(100 * u.PausedShare, 1) + " %", Report.F(u.MeanPauseMs, 2)];
        var table = new List<string[]> { new[] { "GC during the run", "service GC/s", "gen1/gen2", "paused", "mean pause ms", "client GC/s", "gen1/gen2", "paused", "mean pause ms" } };
        foreach (var r in rows)
            if (r.Gc.Service is not null || r.Gc.Client is not null)
                table.Add([r.Name, .. Cells(r.Gc.Service), .. Cells(r.Gc.Client)]);
        return Report.Table(table) +
            "  (from the service's /metrics and the generator's own runtime; a blocking collection pauses every request in flight in that process, " +
            "so the paused share at saturation lands in the latency tail)\n";
    }

    /// <summary>Calls and microseconds per command since the server started (INFO commandstats), by lower-case command name.</summary>
    static async Task<Dictionary<string, (long Calls, long Usec)>> CommandStatsAsync(IConnectionMultiplexer mux)
    {
        var stats = new Dictionary<string, (long, long)>();
        foreach (var (key, value) in await InfoAsync(mux, "commandstats"))
        {
            if (!key.StartsWith("cmdstat_", StringComparison.Ordinal)) continue;
            var fields = value.Split(',').Select(f => f.Split('=')).Where(f => f.Length == 2).ToDictionary(f => f[0], f => f[1]);
            if (long.TryParse(fields.GetValueOrDefault("calls"), out var calls) && long.TryParse(fields.GetValueOrDefault("usec"), out var usec))
                stats[key["cmdstat_".Length..]] = (calls, usec);
        }
        return stats;
    }

    /// <summary>One section of Redis's INFO (of the first endpoint: the bench talks to one server) as field -> value.</summary>
    static async Task<Dictionary<string, string>> InfoAsync(IConnectionMultiplexer mux, string section) =>
        (await mux.GetServer(mux.GetEndPoints()[0]).InfoAsync(section)).SelectMany(g => g).ToDictionary(kv => kv.Key, kv => kv.Value);

    /// <summary>The pid of the Redis server when it runs on this machine (INFO's process_id names a local redis-server), else null.</summary>
    static async Task<int?> LocalRedisPidAsync(IConnectionMultiplexer mux)
    {
        try
        {
            var info = await InfoAsync(mux, "server");
            if (!int.TryParse(info.GetValueOrDefault("process_id"), out var pid)) return null;
            var comm = File.Exists($"/proc/{pid}/comm") ? File.ReadAllText($"/proc/{pid}/comm").Trim() : "";
            return comm.StartsWith("redis-server", StringComparison.Ordinal) ? pid : null;
        }
        catch (Exception e) when (e is RedisException or IOException) { return null; }
    }

    /// <summary>Waits until the relay has emptied the sale's stream (everything accepted is in PostgreSQL and published).</summary>
    static async Task WaitForStreamAsync(IDatabase redis, SaleKeys sale, TimeSpan timeout)
    {
        var sw = Stopwatch.StartNew();
        while (await redis.StreamLengthAsync(sale.Stream) > 0 && sw.Elapsed < timeout) await Task.Delay(100);
    }

    static string Short(string gate) => gate switch { "postgres-row-lock" => "rowlock", "postgres-optimistic" => "optimistic", "redis-relay-off" => "norelay", _ => gate };

    /// <summary>A run of the given duration: closed loop, or open loop at <paramref name="rate"/> requests a second.</summary>
    static Task<LoadResult> RunAsync(string name, Uri url, int connections, TimeSpan duration, Func<long, HttpRequestMessage> request, double? rate = null) =>
        LoadRunner.RunAsync(new LoadPlan(name, url, connections, request, Duration: duration, Rate: rate));

    /// <summary>
    /// Reserves N orders straight into the sale's Redis stream (the same reserve.lua the service runs; no relay is running
    /// for this sale), then starts a relay-enabled orders process and times how fast PostgreSQL fills up.
    /// </summary>
    static async Task<Row> MeasureDrainAsync(SaleStore store, string postgres, string ns, string stamp, int n, string ordersDll, int port,
        Dictionary<string, string> common, string logs, List<SaleKeys> sales, CpuSampler cpu, Action<int> measuring)
    {
        var saleName = $"drain-{stamp}";
        var sale = new SaleDefinition(ns, saleName, DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddHours(2), TimeSpan.FromMinutes(15),
            [new ProductDefinition("item", "Bench item", 10m, "EUR", n, n)]);
        await store.PreloadAsync(sale);
        var keys = new SaleKeys(ns, saleName);
        sales.Add(keys);
        await store.LoadScriptsAsync();
        var sw = Stopwatch.StartNew();
        long next = -1;
        var users = Enumerable.Range(0, 1000).Select(_ => Guid.CreateVersion7()).ToArray();
        await Task.WhenAll(Enumerable.Range(0, 256).Select(async _ =>
        {
            long i;
            while ((i = Interlocked.Increment(ref next)) < n)
            {
                var r = await store.ReserveAsync(keys, users[i % users.Length], "item", 1, Guid.CreateVersion7(), "k" + i, TimeSpan.FromHours(1));
                if (r.Outcome != ReserveOutcome.Accepted) throw new InvalidOperationException($"drain setup: reserve answered {r.Reason}");
            }
        }));
        Console.WriteLine($"   drain: reserved {n} orders into the Redis stream in {sw.Elapsed.TotalSeconds:F1}s ({n / sw.Elapsed.TotalSeconds:F0}/s straight to Redis)");
        await CompactAofAsync(store.Redis);
        await QuietRedisAsync(store.Redis);

        await using var db = NpgsqlDataSource.Create(postgres);
        async Task<long> CountAsync()
        {
            await using var cmd = db.CreateCommand("SELECT count(*) FROM orders.orders WHERE namespace = @ns AND sale = @sale");
            cmd.Parameters.AddWithValue("ns", ns);
            cmd.Parameters.AddWithValue("sale", saleName);
            return (long)(await cmd.ExecuteScalarAsync())!;
        }
        var settings = new Dictionary<string, string>(common) { ["Orders__Relay__Enabled"] = "true" };
        var started = Stopwatch.StartNew();
        await using var relay = ServiceProcess.Start("orders-relay", ordersDll, port, settings, logs);
        measuring(relay.Pid);
        TimeSpan? firstAt = null;
        CpuSampler.Snapshot? cpuAtFirst = null;
        long firstCount = 0, count = 0;
        var deadline = TimeSpan.FromSeconds(300);
        while (started.Elapsed < deadline)
        {
            count = await CountAsync();
            if (count > 0 && firstAt is null) (firstAt, firstCount, cpuAtFirst) = (started.Elapsed, count, cpu.Take());
            Console.Error.Write($"\r  [drain] {started.Elapsed.TotalSeconds,5:F1}s  {count}/{n} orders in PostgreSQL   ");
            if (count >= n) break;
            await Task.Delay(50);
        }
        Console.Error.WriteLine();
        var total = started.Elapsed;
        var cpuAtEnd = cpu.Take();
        if (count < n || firstAt is null)
            return new Row("outbox drain -> PostgreSQL", null, 0, null, $"outbox drain: only {count}/{n} orders reached PostgreSQL in {deadline.TotalSeconds:F0}s");
        var window = total - firstAt.Value;
        var rate = (n - firstCount) / Math.Max(window.TotalSeconds, 0.001);
        Console.WriteLine($"   outbox drain: {n} orders into PostgreSQL at {rate:F0} orders/s (first row {firstAt.Value.TotalSeconds:F1}s after the " +
            $"relay process started, all in {total.TotalSeconds:F1}s including start-up; relay workers and batch size at their defaults, publishing off)");
        return new Row("outbox drain -> PostgreSQL", null, 0, null, $"{n} orders, publishing off", rate, CpuSampler.Between(cpuAtFirst, cpuAtEnd, window));
    }
}
