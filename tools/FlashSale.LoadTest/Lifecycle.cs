using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using FlashSale.Contracts;
using FlashSale.Sales;

namespace FlashSale.LoadTest;

/// <summary>What <see cref="Lifecycle.RunAsync"/> does: the platform's addresses, the admin's credential and the sale's sizes.</summary>
public sealed record LifecycleOptions
{
    public required string Sale { get; init; }
    public required string AdminUsername { get; init; }
    public required string AdminPassword { get; init; }
    public Uri UsersUrl { get; init; } = new("http://127.0.0.1:5101");
    public Uri OrdersUrl { get; init; } = new("http://127.0.0.1:5102");
    public Uri StockUrl { get; init; } = new("http://127.0.0.1:5103");
    public Uri NotificationsUrl { get; init; } = new("http://127.0.0.1:5104");
    public int Buyers { get; init; } = 2000;
    public string Prefix { get; init; } = "lt-buyer";
    public string TokenCache { get; init; } = ".run/loadtest/tokens.json";
    public int LoginParallelism { get; init; } = Math.Max(2, Environment.ProcessorCount * 2);
    public long Attempts { get; init; } = 30_000;
    public int Connections { get; init; } = 256;
    /// <summary>Open loop at this rate (req/s) instead of a closed loop.</summary>
    public double? Rate { get; init; }
    public TimeSpan DrainTimeout { get; init; } = TimeSpan.FromSeconds(120);
    /// <summary>Share of the burst's accepted orders that their buyers pay; the others are left to expire.</summary>
    public double PayShare { get; init; } = 0.6;
    /// <summary>The sale's paymentTimeout (not on the products view): when the unpaid orders are due to expire.</summary>
    public TimeSpan PaymentTimeout { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>How long the buyers still trying keep ordering after the unpaid orders are due, for the returned units.</summary>
    public TimeSpan ResaleTimeout { get; init; } = TimeSpan.FromSeconds(120);
    public int ResaleConnections { get; init; } = 32;
    public double ResaleRate { get; init; } = 300;
    public TimeSpan MailTimeout { get; init; } = TimeSpan.FromSeconds(120);
    public string Maildir { get; init; } = ".run/mail";
    public int PayParallelism { get; init; } = 32;
    /// <summary>Buyers whose notifications are read back through GET /api/notifications.</summary>
    public int NotificationSample { get; init; } = 20;
    public int Seed { get; init; } = Environment.TickCount;
    /// <summary>Progress lines on stderr (the load runs' and the phases').</summary>
    public bool Progress { get; init; } = true;
}

/// <summary>An order the platform accepted (202), with who placed it and in which phase (early, burst, resale).</summary>
public sealed record PlacedOrder(Guid OrderId, Buyer Buyer, string Sku, int Quantity, decimal UnitPrice, string Phase)
{
    public DateTimeOffset AcceptedAt { get; init; } = DateTimeOffset.UtcNow;
    public decimal Amount => UnitPrice * Quantity;
}

/// <summary>The outcome of a whole sale: what each phase did and the failures of the audit (empty when it passed).</summary>
public sealed class LifecycleResult
{
    public required string Sale { get; init; }
    public int Buyers { get; set; }
    public long TotalStock { get; set; }
    public LoadResult? Early { get; set; }
    public LoadResult? Burst { get; set; }
    public LoadResult? Resale { get; set; }
    /// <summary>NOT_STARTED answers inside the counted sale (the burst and the resale): none when the burst waits for the platform's clock.</summary>
    public long NotStartedInSale { get; set; }
    public TimeSpan OpeningWait { get; set; }
    public SaleAudit? AfterBurst { get; set; }
    public SaleAudit? Final { get; set; }
    public int Accepted { get; set; }
    public int Paid { get; set; }
    public int LeftUnpaid { get; set; }
    public int Expired { get; set; }
    public int Resold { get; set; }
    public int ResoldPaid { get; set; }
    public bool ReturnedUnitsResold { get; set; }
    public decimal PaidTotal { get; set; }
    public decimal Debited { get; set; }
    public int TopUps { get; set; }
    public decimal ToppedUp { get; set; }
    public MailCheck? Mails { get; set; }
    public int NotificationsChecked { get; set; }
    public int NotificationsSent { get; set; }
    public long ServerErrors { get; set; }
    public Dictionary<string, double> PhaseSeconds { get; } = [];
    public List<string> Failures { get; } = [];
    public bool Ok => Failures.Count == 0;

    public object Summary() => new
    {
        sale = Sale,
        buyers = Buyers,
        totalStock = TotalStock,
        early = Early is null ? null : Report.Summary(Early),
        load = Burst is null ? null : Report.Summary(Burst),
        resale = Resale is null ? null : Report.Summary(Resale),
        notStartedInSale = NotStartedInSale,
        openingWaitSeconds = Math.Round(OpeningWait.TotalSeconds, 3),
        orders = new { accepted = Accepted, paid = Paid, leftUnpaid = LeftUnpaid, expired = Expired, resold = Resold, resoldPaid = ResoldPaid, returnedUnitsResold = ReturnedUnitsResold },
        money = new { paidTotal = PaidTotal, debited = Debited, topUps = TopUps, toppedUp = ToppedUp },
        mails = Mails is null ? null : new
        {
            expected = Mails.Expected, found = Mails.Found, missing = Mails.Missing, duplicated = Mails.Duplicated,
            wrongRecipient = Mails.WrongRecipient, unexpected = Mails.Unexpected,
            byEvent = Mails.Events.ToDictionary(e => e.Event.ToString().ToLowerInvariant(),
                e => new { e.Expected, e.Found, e.Missing, e.Duplicated, e.WrongRecipient, e.Unexpected }),
            problems = Mails.Problems,
        },
        notifications = new { checkedCount = NotificationsChecked, sent = NotificationsSent },
        serverErrors = ServerErrors,
        phaseSeconds = PhaseSeconds,
        audit = AfterBurst,
        finalAudit = Final,
        failures = Failures,
    };
}

/// <summary>
/// A whole local sale as its buyers live it: log in, wait for the platform's clock to open the sale, burst, drain; a share of
/// the orders paid (wallets topped up first), the rest left to expire and bought again by the buyers still trying (paid too);
/// then every mail in the Maildir and the stock audit. <see cref="RunAsync"/> returns what happened and the failures; the
/// console report is the caller's (the load tool's <c>sale</c>, or an end-to-end test).
/// </summary>
public static class Lifecycle
{
    const string NotStartedAnswer = "409 " + Reasons.NotStarted;

    public static async Task<LifecycleResult> RunAsync(LifecycleOptions o, CancellationToken ct)
    {
        var total = Stopwatch.StartNew();
        var result = new LifecycleResult { Sale = o.Sale };
        using var api = new PlatformCalls(o);
        void Log(string line) { if (o.Progress) Console.Error.WriteLine("  " + line); }
        var phase = Stopwatch.StartNew();
        void EndPhase(string name) { result.PhaseSeconds[name] = Math.Round(phase.Elapsed.TotalSeconds, 2); phase.Restart(); }

        // Buyers and the admin.
        var buyers = await new Buyers(o.UsersUrl, o.TokenCache, o.LoginParallelism).EnsureAsync(o.Prefix, o.Buyers, TimeSpan.FromMinutes(20), ct);
        var pool = buyers.Values.ToArray();
        if (pool.Length == 0) throw new InvalidOperationException("a sale needs at least one buyer (--buyers)");
        var admin = await Buyers.LoginAsync(o.UsersUrl, o.AdminUsername, o.AdminPassword, ct);
        result.Buyers = pool.Length;
        EndPhase("login");

        var view = await api.GetSaleAsync(ct);
        var products = view.Products;
        result.TotalStock = products.Sum(p => p.Stock);
        var price = products.ToDictionary(p => p.Sku, p => p.Price);
        var placed = new ConcurrentDictionary<Guid, PlacedOrder>();

        // Bodies are built once; each attempt picks a buyer and a product at random and gets its own idempotency key.
        var bodies = products.Select(p => Encoding.UTF8.GetBytes($$"""{"sku":"{{p.Sku}}","quantity":1}""")).ToArray();
        var orderUri = new Uri(o.OrdersUrl, $"/api/sales/{o.Sale}/orders");
        var bearers = pool.Select(b => Requests.Bearer(b.Token)).ToArray();
        var stockWeights = products.Select(p => (double)p.Stock / Math.Max(1, result.TotalStock)).ToArray();
        (int Buyer, int Product) Pick(long i, int buyerCount, double[] weights, int salt)
        {
            var rnd = new Random(unchecked(o.Seed + salt + (int)i * 7919));
            var buyer = rnd.Next(buyerCount);
            var x = rnd.NextDouble();
            var product = 0;
            for (; product < weights.Length - 1 && x >= weights[product]; product++) x -= weights[product];
            return (buyer, product);
        }
        HttpRequestMessage BurstRequest(long i)
        {
            var (buyer, product) = Pick(i, pool.Length, stockWeights, 0);
            return Requests.JsonPost(orderUri, bodies[product], bearers[buyer], Requests.NewIdempotencyKey());
        }
        void Record(HttpResponseMessage response, Buyer buyer, string sku, string phaseName, ChannelWriter<PlacedOrder>? toPay = null)
        {
            if (OrderIdOf(response) is not { } id) return;
            var order = new PlacedOrder(id, buyer, sku, 1, price[sku], phaseName);
            if (placed.TryAdd(id, order)) toPay?.TryWrite(order);
        }

        // Warm up connections on an endpoint that does not touch the sale; buyers who try before the opening (answered
        // NOT_STARTED, reported apart) until 1.5 s before it by the platform's clock: as in a real sale, and they take the
        // services through their JIT warm-up (profiled: a cold orders process spent a third of the burst compiling).
        await WarmUpAsync(o.OrdersUrl, o.Connections);
        var skew = (view.Now ?? DateTimeOffset.UtcNow) - DateTimeOffset.UtcNow;
        var earlyFor = view.StartsAt - TimeSpan.FromSeconds(1.5) - (DateTimeOffset.UtcNow + skew);
        if (earlyFor > TimeSpan.FromSeconds(1))
            result.Early = await LoadRunner.RunAsync(new LoadPlan("early attempts", o.OrdersUrl, Math.Min(o.Connections, 64), i => BurstRequest(-1 - i),
                Duration: earlyFor, Progress: o.Progress, OnAccepted: (i, r) =>
                {
                    var (b, p) = Pick(-1 - i, pool.Length, stockWeights, 0);
                    Record(r, pool[b], products[p].Sku, "early");
                }), ct);
        var waited = Stopwatch.StartNew();
        view = await WaitForOpeningAsync(api, o.Progress, ct);
        result.OpeningWait = waited.Elapsed;
        Log($"sale is {view.Status} by the platform's clock ({view.Now:HH:mm:ss.fff}Z): burst starts");
        EndPhase("opening");

        // a. The burst, counted from the platform's opening; each accepted order is recorded by its request's buyer and sku.
        var burstStarted = DateTimeOffset.UtcNow;
        var burst = await LoadRunner.RunAsync(new LoadPlan("sale", o.OrdersUrl, o.Connections, BurstRequest, Total: o.Attempts, Rate: o.Rate,
            Progress: o.Progress, OnAccepted: (i, r) =>
            {
                var (b, p) = Pick(i, pool.Length, stockWeights, 0);
                Record(r, pool[b], products[p].Sku, "burst");
            }), ct);
        result.Burst = burst;
        EndPhase("burst");

        // b. The drain: every accepted order in PostgreSQL.
        var burstOrders = placed.Values.ToList();
        result.Accepted = burstOrders.Count;
        var accepted = burst.Accepted + (result.Early?.Accepted ?? 0);
        var afterBurst = await Auditor.WaitForDrainAsync(o.StockUrl, o.Sale, admin.Token, accepted, o.DrainTimeout, ct);
        result.AfterBurst = afterBurst;
        var f = result.Failures;
        if (!afterBurst.Consistent) f.Add("the audit after the burst is not consistent");
        if (!afterBurst.Drained) f.Add($"the outbox did not drain within {o.DrainTimeout.TotalSeconds:F0}s");
        if (afterBurst.Sold != accepted) f.Add($"{accepted} orders accepted (202) but {afterBurst.Sold} units sold after the burst");
        if (afterBurst.OrdersInPostgres != accepted) f.Add($"{accepted} orders accepted (202) but {afterBurst.OrdersInPostgres} in PostgreSQL after the burst");
        if (burstOrders.Count != accepted) f.Add($"{accepted} orders accepted (202) but {burstOrders.Count} order ids read from the answers");
        EndPhase("drain");

        // c. A share of the orders is paid by their buyers, wallets topped up first where short.
        var shuffled = burstOrders.OrderBy(x => x.OrderId).ToList();
        new Random(o.Seed).Shuffle(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(shuffled));
        var payCount = (int)Math.Round(Math.Clamp(o.PayShare, 0, 1) * shuffled.Count);
        var toPay = shuffled[..payCount];
        var unpaid = shuffled[payCount..];
        result.LeftUnpaid = unpaid.Count;
        var money = new Tally();
        var payers = toPay.GroupBy(x => x.Buyer.UserId).Select(g => (g.First().Buyer, g.Sum(x => x.Amount))).ToList();
        var before = await FundAsync(api, admin, payers, money, o, ct);
        var paidOrders = new ConcurrentBag<(PlacedOrder Order, decimal Amount)>();
        await Parallel.ForEachAsync(toPay, new ParallelOptions { MaxDegreeOfParallelism = o.PayParallelism, CancellationToken = ct }, async (order, token) =>
        {
            var outcome = await PayAsync(api, order, token);
            if (outcome.Problem is not null) money.Problem($"order {order.OrderId} ({order.Phase}) not paid: {outcome.Problem}");
            else paidOrders.Add((order, outcome.Amount));
            if (outcome.View is { } v && money.DueCheckedOnce() && Math.Abs((v.PaymentDueAt - v.CreatedAt - o.PaymentTimeout).TotalSeconds) > 1)
                money.Problem($"--payment-timeout {o.PaymentTimeout.TotalSeconds:F0}s but the platform gives {(v.PaymentDueAt - v.CreatedAt).TotalSeconds:F0}s (order {v.OrderId})");
        });
        await CheckDebitsAsync(api, before.Values, paidOrders, money, ct);
        result.Paid = paidOrders.Count;
        Log($"paid {paidOrders.Count}/{toPay.Count} orders of {payers.Count} buyers ({money.TopUps} wallets topped up); {unpaid.Count} left unpaid to expire");
        EndPhase("payment");

        // d. The unpaid orders expire and their units return to stock; the buyers who got nothing keep trying (paced) until the
        // returned units are sold again, and pay for what they get.
        var resaleOrders = new ConcurrentBag<(PlacedOrder Order, decimal Amount)>();
        var expiresFrom = burstStarted + o.PaymentTimeout;
        var unpaidUnits = unpaid.Sum(x => x.Quantity);
        var remainingAfterBurst = result.AfterBurst!.Products.Sum(p => p.Remaining);
        if (unpaid.Count > 0)
        {
            var holders = burstOrders.Select(x => x.Buyer.UserId).ToHashSet();
            var resalePool = pool.Where(b => !holders.Contains(b.UserId)).ToArray();
            if (resalePool.Length == 0) resalePool = pool;
            var resaleBearers = resalePool.Select(b => Requests.Bearer(b.Token)).ToArray();
            // The returned units are those of the unpaid orders: ask for them rather than for what stays sold out.
            var returning = products.Select(p => (double)unpaid.Where(x => x.Sku == p.Sku).Sum(x => x.Quantity) / unpaidUnits).ToArray();
            var maxSpend = products.Sum(p => p.Price * p.PerUserLimit);
            var resaleBefore = await FundAsync(api, admin, resalePool.Select(b => (b, maxSpend)).ToList(), money, o, ct);

            var lead = expiresFrom - TimeSpan.FromSeconds(2) - DateTimeOffset.UtcNow;
            if (lead > TimeSpan.Zero)
            {
                Log($"{unpaid.Count} unpaid orders are due from {expiresFrom:HH:mm:ss}Z: the buyers still trying start in {lead.TotalSeconds:F0}s");
                await Task.Delay(lead, ct);
            }
            var pay = Channel.CreateUnbounded<PlacedOrder>();
            var payWorkers = Enumerable.Range(0, Math.Max(1, o.PayParallelism)).Select(async _ =>
            {
                await foreach (var order in pay.Reader.ReadAllAsync(ct))
                {
                    var outcome = await PayAsync(api, order, ct);
                    if (outcome.Problem is not null) money.Problem($"resold order {order.OrderId} not paid: {outcome.Problem}");
                    else resaleOrders.Add((order, outcome.Amount));
                }
            }).ToArray();
            using var soldOutAgain = CancellationTokenSource.CreateLinkedTokenSource(ct);
            var deadline = (expiresFrom > DateTimeOffset.UtcNow ? expiresFrom : DateTimeOffset.UtcNow) + o.ResaleTimeout;
            var resaleRun = LoadRunner.RunAsync(new LoadPlan("buyers still trying", o.OrdersUrl, o.ResaleConnections, i =>
                {
                    var (b, p) = Pick(i, resalePool.Length, returning, 104_729);
                    return Requests.JsonPost(orderUri, bodies[p], resaleBearers[b], Requests.NewIdempotencyKey());
                }, Duration: deadline - DateTimeOffset.UtcNow, Rate: o.ResaleRate, Progress: o.Progress, OnAccepted: (i, r) =>
                {
                    var (b, p) = Pick(i, resalePool.Length, returning, 104_729);
                    Record(r, resalePool[b], products[p].Sku, "resale", pay.Writer);
                }), soldOutAgain.Token);
            while (!resaleRun.IsCompleted)
            {
                await Task.WhenAny(resaleRun, Task.Delay(500, ct));
                if (resaleRun.IsCompleted) break;
                var audit = await Auditor.GetAsync(o.StockUrl, o.Sale, admin.Token, ct);
                // Every unpaid unit is back and bought again: as little left as after the burst (0 when the burst sold out; with
                // fewer buyers than units, what their limits left over).
                if (audit.Products.Sum(p => p.ReleasedInRedis) >= unpaidUnits && audit.Products.Sum(p => p.Remaining) <= remainingAfterBurst)
                {
                    result.ReturnedUnitsResold = true;
                    await soldOutAgain.CancelAsync();
                }
            }
            result.Resale = await resaleRun;
            pay.Writer.Complete();
            await Task.WhenAll(payWorkers);
            var resold = placed.Values.Where(x => x.Phase == "resale").ToList();
            result.Resold = resold.Count;
            result.ResoldPaid = resaleOrders.Count;
            // Only the buyers who got a returned unit: the others were funded but ordered nothing that was accepted.
            var resoldTo = resold.Select(x => x.Buyer.UserId).ToHashSet();
            await CheckDebitsAsync(api, resaleBefore.Where(b => resoldTo.Contains(b.Key)).Select(b => b.Value), resaleOrders, money, ct);
            if (!result.ReturnedUnitsResold)
                f.Add($"the returned units were not sold again within --resale-timeout {o.ResaleTimeout.TotalSeconds:F0}s after the orders were due " +
                    $"({result.Resold} resold of {unpaidUnits} left unpaid)");
            Log($"{result.Resold} returned units sold again and paid ({result.ResoldPaid}); " + (result.ReturnedUnitsResold ? "all bought again" : "NOT all bought again"));
        }
        EndPhase("expiry and resale");

        // The unpaid orders are EXPIRED (their units returned), the others not.
        result.Expired = await CountExpiredAsync(api, unpaid, TimeSpan.FromSeconds(15), ct);
        if (result.Expired != unpaid.Count) f.Add($"{unpaid.Count - result.Expired} of the {unpaid.Count} unpaid orders are not EXPIRED");
        var allOrders = placed.Values.ToList();
        var keptUnits = allOrders.Sum(x => x.Quantity) - unpaidUnits;
        var final = await FinalAuditAsync(o, admin, allOrders.Count, unpaidUnits, ct);
        result.Final = final;
        foreach (var p in final.Products)
            if (p.ReservedInRedis - p.ReleasedInRedis + p.Remaining != p.Stock)
                f.Add($"{p.Sku}: sold {p.ReservedInRedis - p.ReleasedInRedis} + remaining {p.Remaining} != stock {p.Stock} after the expiries");
        if (!final.Consistent) f.Add("the final audit is not consistent");
        if (!final.Drained) f.Add("the outbox did not drain after the resale");
        if (final.OrdersInPostgres != allOrders.Count) f.Add($"{allOrders.Count} orders accepted (202) in all but {final.OrdersInPostgres} in PostgreSQL");
        if (final.Products.Sum(p => p.UnitsInAcceptedOrders) != keptUnits)
            f.Add($"{keptUnits} units in paid or resold orders but {final.Products.Sum(p => p.UnitsInAcceptedOrders)} in non-expired orders in PostgreSQL");
        if (final.Products.Sum(p => p.ReleasedInRedis) != unpaidUnits)
            f.Add($"{unpaidUnits} units left unpaid but {final.Products.Sum(p => p.ReleasedInRedis)} returned to stock");
        if (final.Oversold > 0 || afterBurst.Oversold > 0) f.Add($"{Math.Max(final.Oversold, afterBurst.Oversold)} units oversold");
        if (final.UsersOverLimit > 0 || afterBurst.UsersOverLimit > 0) f.Add($"{Math.Max(final.UsersOverLimit, afterBurst.UsersOverLimit)} buyers over the per-user limit");
        if (final.DuplicateOrders > 0) f.Add($"{final.DuplicateOrders} duplicate orders in PostgreSQL");
        EndPhase("final audit");

        // e. Every mail: reserved per accepted order, paid per paid order, expired per expired order, to the buyer's address.
        var paidIds = paidOrders.Select(x => x.Order.OrderId).Concat(resaleOrders.Select(x => x.Order.OrderId)).ToHashSet();
        var unpaidIds = unpaid.Select(x => x.OrderId).ToHashSet();
        var expected = allOrders.ToDictionary(x => x.OrderId, x => new MailExpectation(x.Buyer.Email,
            paidIds.Contains(x.OrderId) ? [MailEvent.Reserved, MailEvent.Paid] : unpaidIds.Contains(x.OrderId) ? [MailEvent.Reserved, MailEvent.Expired] : [MailEvent.Reserved]));
        result.Mails = await WaitForMailsAsync(o, expected, ct);
        var m = result.Mails;
        if (m.Missing > 0)
            f.Add($"{m.Missing} of {m.Expected} mails missing in {o.Maildir} after {o.MailTimeout.TotalSeconds:F0}s (" +
                string.Join(", ", m.Events.Where(e => e.Missing > 0).Select(e => $"{e.Event.ToString().ToLowerInvariant()} {e.Missing}")) + ")");
        if (m.Duplicated > 0) f.Add($"{m.Duplicated} duplicated mails");
        if (m.WrongRecipient > 0) f.Add($"{m.WrongRecipient} mails to a wrong address");
        if (m.Unexpected > 0) f.Add($"{m.Unexpected} mails about an event the order did not go through");
        try { (result.NotificationsChecked, result.NotificationsSent) = await CheckNotificationsAsync(api, allOrders, expected, o, money, ct); }
        catch (Exception e) when (e is HttpRequestException or InvalidOperationException or TaskCanceledException && !ct.IsCancellationRequested)
        {
            f.Add($"the notifications could not be read at {o.NotificationsUrl}: {e.Message}");
        }
        if (result.NotificationsSent != result.NotificationsChecked)
            f.Add($"{result.NotificationsChecked - result.NotificationsSent} of {result.NotificationsChecked} notifications of {Math.Min(o.NotificationSample, allOrders.Select(x => x.Buyer).Distinct().Count())} sampled buyers not listed as sent");
        EndPhase("mails");

        // f. Money and the answers.
        result.PaidTotal = paidOrders.Sum(x => x.Amount) + resaleOrders.Sum(x => x.Amount);
        result.Debited = money.Debited;
        result.TopUps = money.TopUps;
        result.ToppedUp = money.ToppedUp;
        if (result.Debited != result.PaidTotal) f.Add($"wallets dropped by {result.Debited} in all but the paid orders total {result.PaidTotal}");
        f.AddRange(money.Problems.Take(10));
        if (money.Problems.Count > 10) f.Add($"... and {money.Problems.Count - 10} more problems of payments and notifications");
        result.NotStartedInSale = Count(burst, NotStartedAnswer) + (result.Resale is { } rs ? Count(rs, NotStartedAnswer) : 0);
        if (result.NotStartedInSale > 0) f.Add($"{result.NotStartedInSale} answers NOT_STARTED inside the sale");
        if (result.Early?.Errors > 0) f.Add($"{result.Early.Errors} early attempts failed (transport errors or 5xx)");
        if (burst.Errors > 0) f.Add($"{burst.Errors} requests of the burst failed (transport errors or 5xx)");
        if (result.Resale?.Errors > 0) f.Add($"{result.Resale.Errors} requests of the buyers still trying failed (transport errors or 5xx)");
        result.ServerErrors = api.ServerErrors;
        if (api.ServerErrors > 0) f.Add($"{api.ServerErrors} 5xx answers to the lifecycle's calls (e.g. {string.Join("; ", api.ServerErrorExamples)})");
        result.PhaseSeconds["total"] = Math.Round(total.Elapsed.TotalSeconds, 2);
        return result;
    }

    static long Count(LoadResult r, string answer) => r.Answers.TryGetValue(answer, out var n) ? n : 0;

    /// <summary>The order id of a 202: from its Location (<c>/api/orders/{id}</c>), else from the body's <c>orderId</c>.</summary>
    public static Guid? OrderIdOf(HttpResponseMessage response)
    {
        var location = response.Headers.Location?.OriginalString;
        if (location is not null && Guid.TryParse(location.AsSpan(location.LastIndexOf('/') + 1), out var id)) return id;
        try
        {
            using var doc = JsonDocument.Parse(response.Content.ReadAsStream());
            return doc.RootElement.TryGetProperty("orderId", out var e) && e.TryGetGuid(out var fromBody) ? fromBody : null;
        }
        catch (JsonException) { return null; }
    }

    /// <summary>Polls the products view (every 20 ms in the last second and a half) until the platform's clock opens the sale.</summary>
    static async Task<SaleView> WaitForOpeningAsync(PlatformCalls api, bool progress, CancellationToken ct)
    {
        while (true)
        {
            var view = await api.GetSaleAsync(ct);
            if (view.Status != "SCHEDULED") return view;
            var left = view.StartsAt - (view.Now ?? DateTimeOffset.UtcNow);
            if (progress) Console.Error.Write($"\r  sale opens in {Math.Max(0, left.TotalSeconds):F1}s   ");
            await Task.Delay(left > TimeSpan.FromSeconds(1.5) ? TimeSpan.FromSeconds(Math.Min(1, left.TotalSeconds - 1.2)) : TimeSpan.FromMilliseconds(20), ct);
        }
    }

    static async Task WarmUpAsync(Uri baseUrl, int connections)
    {
        using var client = LoadRunner.CreateClient(baseUrl, connections);
        await Task.WhenAll(Enumerable.Range(0, connections).Select(async _ =>
        {
            for (var i = 0; i < 4; i++) { using var r = await client.GetAsync("/healthz/live"); }
        }));
    }

    /// <summary>What the lifecycle counted of the money (top-ups, the wallets' drops) and the problems it met (thread-safe).</summary>
    sealed class Tally
    {
        readonly Lock _lock = new();
        readonly List<string> _problems = [];
        int _dueChecked;
        public int TopUps;
        public decimal ToppedUp, Debited;
        public IReadOnlyList<string> Problems { get { lock (_lock) return [.. _problems]; } }
        public void Problem(string p) { lock (_lock) _problems.Add(p); }
        public void TopUp(decimal amount) { lock (_lock) { TopUps++; ToppedUp += amount; } }
        public void Debit(decimal amount) { lock (_lock) Debited += amount; }
        public bool DueCheckedOnce() => Interlocked.Exchange(ref _dueChecked, 1) == 0;
    }

    /// <summary>Reads each buyer's balance and tops it up by the admin where it is below what the buyer will pay; returns the balances before paying.</summary>
    static async Task<Dictionary<Guid, (Buyer Buyer, decimal Balance)>> FundAsync(PlatformCalls api, Buyer admin, IReadOnlyList<(Buyer Buyer, decimal Need)> buyers, Tally money,
        LifecycleOptions o, CancellationToken ct)
    {
        var balances = new ConcurrentDictionary<Guid, (Buyer, decimal)>();
        await Parallel.ForEachAsync(buyers, new ParallelOptions { MaxDegreeOfParallelism = o.PayParallelism, CancellationToken = ct }, async (x, token) =>
        {
            var balance = (await api.GetAsync<Wallet>(api.Users, "/api/wallet", x.Buyer.Token, token)).Balance;
            if (balance < x.Need)
            {
                var amount = Math.Ceiling((x.Need - balance) * 100) / 100;
                using var r = await api.SendAsync(api.Users, HttpMethod.Post, $"/api/users/{x.Buyer.UserId}/wallet/topups", admin.Token, new { amount }, token);
                if (!r.IsSuccessStatusCode)
                    throw new InvalidOperationException($"top-up of {x.Buyer.Username}'s wallet failed: {(int)r.StatusCode} {await r.Content.ReadAsStringAsync(token)}");
                balance = (await r.Content.ReadFromJsonAsync<Wallet>(Report.Json, token))!.Balance;
                money.TopUp(amount);
            }
            balances[x.Buyer.UserId] = (x.Buyer, balance);
        });
        return balances.ToDictionary();
    }

    /// <summary>Each buyer's wallet dropped by exactly the orders it paid (an order debited twice, or not at all, shows here).</summary>
    static async Task CheckDebitsAsync(PlatformCalls api, IEnumerable<(Buyer Buyer, decimal Balance)> before, IEnumerable<(PlacedOrder Order, decimal Amount)> paid,
        Tally money, CancellationToken ct)
    {
        var paidBy = paid.GroupBy(x => x.Order.Buyer.UserId).ToDictionary(g => g.Key, g => (Sum: g.Sum(x => x.Amount), Count: g.Count()));
        await Parallel.ForEachAsync(before, new ParallelOptions { MaxDegreeOfParallelism = 32, CancellationToken = ct }, async (b, token) =>
        {
            var (sum, count) = paidBy.GetValueOrDefault(b.Buyer.UserId);
            var after = (await api.GetAsync<Wallet>(api.Users, "/api/wallet", b.Buyer.Token, token)).Balance;
            var drop = b.Balance - after;
            money.Debit(drop);
            if (drop != sum) money.Problem($"{b.Buyer.Username} paid {count} orders for {sum} but the wallet dropped by {drop}");
        });
    }

    sealed record Wallet(Guid UserId, decimal Balance, string Currency);
    sealed record OrderAnswer(Guid OrderId, string Sku, int Quantity, decimal UnitPrice, string Currency, string Status, DateTimeOffset CreatedAt, DateTimeOffset PaymentDueAt);
    sealed record PayOutcome(decimal Amount, string? Problem, OrderAnswer? View);

    /// <summary>Pays an order with its buyer's token; an order not yet in PostgreSQL (404) or a wallet briefly unavailable (503) is retried for 30 s.</summary>
    static async Task<PayOutcome> PayAsync(PlatformCalls api, PlacedOrder order, CancellationToken ct)
    {
        var started = DateTimeOffset.UtcNow;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        var answers = new List<string>();
        // How the attempts went, for a failure: when the first was sent after the order was accepted, and what each got.
        string Story(string last) => $"{last} (first attempt {(started - order.AcceptedAt).TotalSeconds:F1}s after the 202; " +
            string.Join(", ", answers.GroupBy(a => a).Select(g => $"{g.Key} x{g.Count()}")) + ")";
        while (true)
        {
            HttpResponseMessage r;
            try { r = await api.SendAsync(api.Orders, HttpMethod.Post, $"/api/orders/{order.OrderId}/payment", order.Buyer.Token, null, ct); }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !ct.IsCancellationRequested)
            {
                // Safe to repeat: the debit is idempotent per order id.
                answers.Add("ERR " + e.GetType().Name);
                if (DateTime.UtcNow > deadline) return new PayOutcome(0, Story("ERR " + e.GetType().Name), null);
                await Task.Delay(500, ct);
                continue;
            }
            using (r)
            {
                if (r.IsSuccessStatusCode)
                {
                    var view = (await r.Content.ReadFromJsonAsync<OrderAnswer>(Report.Json, ct))!;
                    return view.Status == "PAID"
                        ? new PayOutcome(view.UnitPrice * view.Quantity, null, view)
                        : new PayOutcome(0, Story($"answered {(int)r.StatusCode} with status {view.Status}"), view);
                }
                var reason = LoadRunner.ReadReason(await r.Content.ReadAsByteArrayAsync(ct)) ?? r.ReasonPhrase;
                answers.Add($"{(int)r.StatusCode} {reason}");
                var retry = (r.StatusCode == HttpStatusCode.NotFound && reason == "ORDER_NOT_FOUND") || r.StatusCode == HttpStatusCode.ServiceUnavailable;
                if (!retry || DateTime.UtcNow > deadline) return new PayOutcome(0, Story($"{(int)r.StatusCode} {reason}"), null);
                var wait = r.Headers.RetryAfter?.Delta ?? TimeSpan.FromMilliseconds(200);
                await Task.Delay(r.StatusCode == HttpStatusCode.NotFound || wait > TimeSpan.FromSeconds(2) ? TimeSpan.FromMilliseconds(200) : wait, ct);
            }
        }
    }

    /// <summary>How many of <paramref name="orders"/> their buyers see EXPIRED (GET /api/orders/{id}), polling a while for the last.</summary>
    static async Task<int> CountExpiredAsync(PlatformCalls api, IReadOnlyList<PlacedOrder> orders, TimeSpan patience, CancellationToken ct)
    {
        var expired = new ConcurrentDictionary<Guid, bool>();
        var deadline = DateTime.UtcNow + patience;
        while (true)
        {
            await Parallel.ForEachAsync(orders.Where(x => !expired.ContainsKey(x.OrderId)), new ParallelOptions { MaxDegreeOfParallelism = 32, CancellationToken = ct },
                async (order, token) =>
                {
                    using var r = await api.SendAsync(api.Orders, HttpMethod.Get, $"/api/orders/{order.OrderId}", order.Buyer.Token, null, token);
                    if (r.IsSuccessStatusCode && (await r.Content.ReadFromJsonAsync<OrderAnswer>(Report.Json, token))!.Status == "EXPIRED") expired[order.OrderId] = true;
                });
            if (expired.Count == orders.Count || DateTime.UtcNow > deadline) return expired.Count;
            await Task.Delay(1000, ct);
        }
    }

    /// <summary>The audit once the outbox has drained every order and the returned units are recorded in PostgreSQL (or the drain timeout).</summary>
    static async Task<SaleAudit> FinalAuditAsync(LifecycleOptions o, Buyer admin, int orders, long releasedUnits, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + o.DrainTimeout;
        while (true)
        {
            var audit = await Auditor.GetAsync(o.StockUrl, o.Sale, admin.Token, ct);
            var settled = audit.Drained && audit.OrdersInPostgres >= orders && audit.Consistent
                && audit.Products.Sum(p => p.UnitsReleasedInPostgres) >= releasedUnits;
            if (settled || DateTime.UtcNow > deadline) return audit;
            await Task.Delay(250, ct);
        }
    }

    static async Task<MailCheck> WaitForMailsAsync(LifecycleOptions o, IReadOnlyDictionary<Guid, MailExpectation> expected, CancellationToken ct)
    {
        var maildir = new Maildir(o.Maildir);
        var deadline = DateTime.UtcNow + o.MailTimeout;
        var started = Stopwatch.StartNew();
        while (true)
        {
            var check = MailCheck.Of(maildir.Scan(), expected);
            if (o.Progress) Console.Error.Write($"\r  mails: {check.Found}/{check.Expected} in {o.Maildir} ({started.Elapsed.TotalSeconds:F0}s)   ");
            if (check.Complete || DateTime.UtcNow > deadline)
            {
                if (o.Progress) Console.Error.WriteLine();
                return check;
            }
            await Task.Delay(1000, ct);
        }
    }

    sealed record Notification(Guid OrderId, string Template, string Recipient, string Status);
    sealed record NotificationPage(IReadOnlyList<Notification> Items, bool HasMore);

    /// <summary>For a sample of buyers, each expected notification as GET /api/notifications lists it: (expected, listed as sent).</summary>
    static async Task<(int Checked, int Sent)> CheckNotificationsAsync(PlatformCalls api, IReadOnlyList<PlacedOrder> orders,
        IReadOnlyDictionary<Guid, MailExpectation> expected, LifecycleOptions o, Tally money, CancellationToken ct)
    {
        var byBuyer = orders.GroupBy(x => x.Buyer.UserId).OrderBy(g => g.Key).ToList();
        new Random(o.Seed).Shuffle(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(byBuyer));
        int expectedCount = 0, sent = 0;
        foreach (var buyerOrders in byBuyer.Take(o.NotificationSample))
        {
            var buyer = buyerOrders.First().Buyer;
            var wanted = buyerOrders.SelectMany(x => expected[x.OrderId].Events.Select(e => (x.OrderId, Template: "order-" + e.ToString().ToLowerInvariant()))).ToHashSet();
            var listed = new Dictionary<(Guid, string), Notification>();
            // Newest first: this run's notifications are on the first pages, the buyer's earlier runs' after them.
            for (var page = 1; page <= 20 && listed.Count < wanted.Count; page++)
            {
                var p = await api.GetAsync<NotificationPage>(api.Notifications, $"/api/notifications?page={page}&pageSize=100", buyer.Token, ct);
                foreach (var n in p.Items)
                    if (wanted.Contains((n.OrderId, n.Template))) listed[(n.OrderId, n.Template)] = n;
                if (!p.HasMore) break;
            }
            expectedCount += wanted.Count;
            foreach (var w in wanted)
            {
                if (!listed.TryGetValue(w, out var n)) money.Problem($"{buyer.Username}: no {w.Template} notification of order {w.OrderId} listed");
                else if (n.Status != "sent") money.Problem($"{buyer.Username}: {w.Template} notification of order {w.OrderId} is {n.Status}");
                else if (!string.Equals(n.Recipient, buyer.Email, StringComparison.OrdinalIgnoreCase)) money.Problem($"{buyer.Username}: {w.Template} notification of order {w.OrderId} went to {n.Recipient}");
                else sent++;
            }
        }
        return (expectedCount, sent);
    }

    /// <summary>The platform's APIs as the lifecycle calls them, with one count of the 5xx answers across them all.</summary>
    sealed class PlatformCalls(LifecycleOptions o) : IDisposable
    {
        public HttpClient Users { get; } = Client(o.UsersUrl);
        public HttpClient Orders { get; } = Client(o.OrdersUrl);
        public HttpClient Stock { get; } = Client(o.StockUrl);
        public HttpClient Notifications { get; } = Client(o.NotificationsUrl);
        readonly ConcurrentQueue<string> _examples = new();
        long _serverErrors;

        public long ServerErrors => Interlocked.Read(ref _serverErrors);
        public IEnumerable<string> ServerErrorExamples => _examples.Take(3);

        static HttpClient Client(Uri url) => new(new SocketsHttpHandler { MaxConnectionsPerServer = 64, UseCookies = false, UseProxy = false })
        { BaseAddress = url, Timeout = TimeSpan.FromSeconds(30) };

        public async Task<HttpResponseMessage> SendAsync(HttpClient http, HttpMethod method, string path, string token, object? json, CancellationToken ct)
        {
            using var request = new HttpRequestMessage(method, path);
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            if (json is not null) request.Content = JsonContent.Create(json, options: Report.Json);
            var response = await http.SendAsync(request, ct);
            if ((int)response.StatusCode >= 500)
            {
                Interlocked.Increment(ref _serverErrors);
                if (_examples.Count < 3) _examples.Enqueue($"{method} {path}: {(int)response.StatusCode}");
            }
            return response;
        }

        public async Task<T> GetAsync<T>(HttpClient http, string path, string token, CancellationToken ct)
        {
            using var r = await SendAsync(http, HttpMethod.Get, path, token, null, ct);
            if (!r.IsSuccessStatusCode) throw new InvalidOperationException($"GET {new Uri(http.BaseAddress!, path)} failed: {(int)r.StatusCode} {await r.Content.ReadAsStringAsync(ct)}");
            return (await r.Content.ReadFromJsonAsync<T>(Report.Json, ct))!;
        }

        public async Task<SaleView> GetSaleAsync(CancellationToken ct) =>
            (await Stock.GetFromJsonAsync<SaleView>($"/api/sales/{o.Sale}/products", Report.Json, ct))!;

        public void Dispose()
        {
            Users.Dispose();
            Orders.Dispose();
            Stock.Dispose();
            Notifications.Dispose();
        }
    }
}
