using System.Text;
using FlashSale.Contracts;
using FlashSale.ServiceDefaults;
using Microsoft.Extensions.DependencyInjection;

namespace FlashSale.Orders.Tests;

public class OrderPathTests : SaleWorldTests
{
    /// <summary>Sends <paramref name="count"/> requests at once; their status codes and bodies in the order made.</summary>
    static Task<(HttpStatusCode StatusCode, string Body)[]> SendAllAsync(HttpClient http, int count, Func<int, HttpRequestMessage> request) =>
        Task.WhenAll(Enumerable.Range(0, count).Select(async i =>
        {
            using var r = await http.SendAsync(request(i));
            return (r.StatusCode, await r.Content.ReadAsStringAsync());
        }));

    [Theory]
    [InlineData("redis")]
    [InlineData("postgres-row-lock")]
    [InlineData("postgres-optimistic")]
    public async Task TwoThousandConcurrentBuyersGetExactlyTheHundredUnitsInStock(string gate)
    {
        var sale = await World.NewSaleAsync(stock: 100, limit: 1);
        var orders = World.StartOrders(gate);
        var stock = World.StartStock(sale.Name);
        using var http = Buyers.SharedClient(orders.BaseAddress);
        var buyers = Enumerable.Range(0, 2000).Select(_ => Guid.NewGuid()).ToArray();
        var tokens = buyers.Select(b => TestTokens.Mint(b)).ToArray();

        var answers = await Task.WhenAll(tokens.Select(async t =>
        {
            using var response = await http.SendAsync(Buyers.Order(sale.Name, "item", 1, t, Guid.NewGuid().ToString()));
            var body = await response.Content.ReadAsStringAsync();
            return (response.StatusCode, Reason: response.StatusCode == HttpStatusCode.Accepted ? "ACCEPTED" : JsonDocument.Parse(body).RootElement.GetProperty("reason").GetString());
        }));

        Assert.Equal(100, answers.Count(a => a.StatusCode == HttpStatusCode.Accepted));
        var allowed = gate == "postgres-optimistic" ? new[] { Reasons.SoldOut, Reasons.Contention } : [Reasons.SoldOut];
        Assert.All(answers.Where(a => a.StatusCode != HttpStatusCode.Accepted), a =>
        {
            Assert.Equal(HttpStatusCode.Conflict, a.StatusCode);
            Assert.Contains(a.Reason, allowed);
        });

        await World.WaitForOrdersAsync(sale.Name, 100);
        var audit = await World.AuditAsync(stock, sale.Name);
        Assert.True(audit.Consistent, JsonSerializer.Serialize(audit));
        Assert.Equal(0, audit.UsersOverLimit);
        Assert.Equal(100, audit.Products.Single().UnitsInAcceptedOrders);
        Assert.Equal(0, audit.Products.Single().Remaining);
        Assert.Equal(100, await World.ScalarAsync("SELECT count(DISTINCT user_id) FROM orders.orders WHERE sale = @s", ("s", sale.Name)));
        if (gate == "redis")
        {
            // The orders that reached the script, and in how many calls, are on /metrics (every one of the 100 accepted did).
            var metrics = "";
            double Value(string name) => double.Parse(metrics.Split('\n').Single(l => l.StartsWith(name + " ", StringComparison.Ordinal) || l.StartsWith(name + "{", StringComparison.Ordinal))
                .Split(' ')[^1], System.Globalization.CultureInfo.InvariantCulture);
            // Read until the figures settle: a scrape can come before the last batches' records are visible to it.
            for (var deadline = DateTime.UtcNow.AddSeconds(5); ; await Task.Delay(100))
            {
                metrics = await http.GetStringAsync("/metrics");
                if (Value("flashsale_orders_reserve_batch_size_sum") >= 100 || DateTime.UtcNow > deadline) break;
            }
            var (calls, reserved) = (Value("flashsale_orders_reserve_batch_size_count"), Value("flashsale_orders_reserve_batch_size_sum"));
            Assert.InRange(reserved, 100, 2000);
            Assert.InRange(calls, 1, reserved);
        }
    }

    [Theory]
    [InlineData("redis")]
    [InlineData("postgres-row-lock")]
    public async Task OrdersForMadeUpSalesAreAnswered404AndLeaveNothingBehindInTheReplica(string gate)
    {
        var sale = await World.NewSaleAsync(stock: 10, limit: 1);
        var orders = World.StartOrders(gate);
        using var http = Buyers.SharedClient(orders.BaseAddress);
        var token = TestTokens.Mint(Guid.NewGuid());
        var codes = await SendAllAsync(http, 300, i => Buyers.Order($"made-up-{i}", "item", 1, token, $"k{i}"));
        Assert.All(codes, c => Assert.Equal(HttpStatusCode.NotFound, c.StatusCode));
        Assert.All(codes, c => Assert.Contains(Reasons.UnknownSale, c.Body));
        // Keys (and coalescing lanes) are kept for sales Redis knows only: a buyer naming made-up sales cannot grow memory.
        int Known() => gate == "redis"
            ? orders.Services.GetRequiredService<FlashSale.Orders.Gates.SoldOutCache>().KnownSales
            : orders.Services.GetRequiredService<SaleCatalog>().KnownSales;
        Assert.Equal(0, Known());
        using var real = await http.SendAsync(Buyers.Order(sale.Name, "item", 1, token, "real"));
        Assert.Equal(HttpStatusCode.Accepted, real.StatusCode);
        Assert.Equal(1, Known());
    }

    [Fact]
    public async Task OneUserSendingFiftyConcurrentOrdersGetsExactlyTheirLimitOfTwo()
    {
        var (sale, orders, stock) = await World.OpenSaleAsync(stock: 100, limit: 2);
        using var http = Buyers.SharedClient(orders.BaseAddress);
        var token = TestTokens.Mint(Guid.NewGuid());
        var codes = await SendAllAsync(http, 50, _ => Buyers.Order(sale.Name, "item", 1, token, Guid.NewGuid().ToString()));
        Assert.Equal(2, codes.Count(c => c.StatusCode == HttpStatusCode.Accepted));
        Assert.All(codes.Where(c => c.StatusCode != HttpStatusCode.Accepted), c => Assert.Contains(Reasons.LimitReached, c.Body));
        await World.WaitForOrdersAsync(sale.Name, 2);
        var audit = await World.AuditAsync(stock, sale.Name);
        Assert.True(audit.Consistent);
        Assert.Equal(98, audit.Products.Single().Remaining);
    }

    [Fact]
    public async Task TwentyIdenticalRequestsWithOneKeyMakeOneOrderAndTwentyIdenticalAnswers()
    {
        var sale = await World.NewSaleAsync(stock: 100, limit: 5);
        var orders = World.StartOrders();
        using var http = Buyers.SharedClient(orders.BaseAddress);
        var token = TestTokens.Mint(Guid.NewGuid());
        var answers = await Task.WhenAll(Enumerable.Range(0, 20).Select(async _ =>
        {
            using var r = await http.SendAsync(Buyers.Order(sale.Name, "item", 2, token, "same-key"));
            return (r.StatusCode, r.Headers.Location?.ToString(), await r.Content.ReadAsStringAsync(), r.Content.Headers.ContentLength,
                r.Content.Headers.ContentType?.MediaType, r.Headers.TransferEncodingChunked);
        }));
        Assert.All(answers, a => Assert.Equal(HttpStatusCode.Accepted, a.StatusCode));
        Assert.Single(answers.Select(a => a.Item2).Distinct());
        Assert.Single(answers.Select(a => a.Item3).Distinct());
        // The answer: JSON sent with its length (not chunked), naming the order the Location points at.
        var accepted = JsonDocument.Parse(answers[0].Item3).RootElement;
        Assert.Equal($"/api/orders/{accepted.GetProperty("orderId").GetGuid()}", answers[0].Item2);
        Assert.Equal("RESERVED", accepted.GetProperty("status").GetString());
        Assert.Equal(2, accepted.GetProperty("quantity").GetInt32());
        Assert.All(answers, a => Assert.Equal(System.Text.Encoding.UTF8.GetByteCount(a.Item3), a.Item4));
        Assert.All(answers, a => Assert.Equal("application/json", a.Item5));
        Assert.All(answers, a => Assert.NotEqual(true, a.Item6));
        await World.WaitForOrdersAsync(sale.Name, 1);

        using var mismatch = await http.SendAsync(Buyers.Order(sale.Name, "item", 1, token, "same-key"));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, mismatch.StatusCode);
        Assert.Contains(Reasons.IdempotencyMismatch, await mismatch.Content.ReadAsStringAsync());
        Assert.Equal(98, (await World.Store.GetStockAsync(new SaleKeys(World.Namespace, sale.Name)))[0].Remaining);
    }

    [Fact]
    public async Task ARetryOfAnAcceptedOrderIsReplayedEvenWhileTheSkuIsFlaggedSoldOut()
    {
        var sale = await World.NewSaleAsync(stock: 1, limit: 1, declareTopology: false);
        var orders = World.StartOrders(tweak: s => s["Orders:Relay:Enabled"] = "false");
        using var http = orders.Client();
        var buyer = TestTokens.Mint(Guid.NewGuid());
        using var first = await http.SendAsync(Buyers.Order(sale.Name, "item", 1, buyer, "retry-me"));
        Assert.Equal(HttpStatusCode.Accepted, first.StatusCode);
        using var soldOut = await http.SendAsync(Buyers.Order(sale.Name, "item", 1, TestTokens.Mint(Guid.NewGuid()), "other"));
        Assert.Contains(Reasons.SoldOut, await soldOut.Content.ReadAsStringAsync());
        // The replica now answers SOLD_OUT without the gate script; the buyer's retry must still get its order.
        using var retry = await http.SendAsync(Buyers.Order(sale.Name, "item", 1, buyer, "retry-me"));
        Assert.Equal(HttpStatusCode.Accepted, retry.StatusCode);
        Assert.Equal(first.Headers.Location, retry.Headers.Location);
        using var mismatch = await http.SendAsync(Buyers.Order(sale.Name, "item", 2, buyer, "retry-me"));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, mismatch.StatusCode);
    }

    [Fact]
    public async Task TheWindowOfTheSaleFileDecides()
    {
        var early = await World.NewSaleAsync(startsInSeconds: 60, declareTopology: false);
        var late = await World.NewSaleAsync(startsInSeconds: -120, endsInSeconds: -60, declareTopology: false);
        var orders = World.StartOrders();
        using var http = orders.Client();
        var token = TestTokens.Mint(Guid.NewGuid());
        using var notStarted = await http.SendAsync(Buyers.Order(early.Name, "item", 1, token, "k1"));
        Assert.Equal(HttpStatusCode.Conflict, notStarted.StatusCode);
        Assert.Contains(Reasons.NotStarted, await notStarted.Content.ReadAsStringAsync());
        using var ended = await http.SendAsync(Buyers.Order(late.Name, "item", 1, token, "k2"));
        Assert.Equal(HttpStatusCode.Gone, ended.StatusCode);
        Assert.Contains(Reasons.Ended, await ended.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task BadInputGetsAClearProblemAndChangesNothing()
    {
        var (sale, orders, stock) = await World.OpenSaleAsync(stock: 10, limit: 1);
        using var http = orders.Client();
        var token = TestTokens.Mint(Guid.NewGuid());
        var expired = TestTokens.Mint(Guid.NewGuid(), lifetime: TimeSpan.FromMinutes(1), notBefore: DateTime.UtcNow.AddHours(-1));

        async Task Expect(HttpStatusCode code, string? reason, HttpRequestMessage request)
        {
            using var response = await http.SendAsync(request);
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(code == response.StatusCode, $"expected {code}, got {response.StatusCode}: {body}");
            if (reason is not null) Assert.Equal(reason, JsonDocument.Parse(body).RootElement.GetProperty("reason").GetString());
            Assert.DoesNotContain("   at ", body);
        }
        await Expect(HttpStatusCode.BadRequest, "VALIDATION", Buyers.Order(sale.Name, "item", -1, token, "a"));
        await Expect(HttpStatusCode.BadRequest, "VALIDATION", Buyers.Order(sale.Name, "item", 0, token, "b"));
        await Expect(HttpStatusCode.BadRequest, "VALIDATION", Buyers.Order(sale.Name, "item", 1_000_000, token, "c"));
        await Expect(HttpStatusCode.UnprocessableEntity, Reasons.UnknownSku, Buyers.Order(sale.Name, "nope", 1, token, "d"));
        await Expect(HttpStatusCode.NotFound, Reasons.UnknownSale, Buyers.Order("no-such-sale", "item", 1, token, "e"));
        await Expect(HttpStatusCode.NotFound, Reasons.UnknownSale, Buyers.Order(sale.Name + "%7D:x", "item", 1, token, "e2"));
        await Expect(HttpStatusCode.BadRequest, "IDEMPOTENCY_KEY_REQUIRED", Buyers.Order(sale.Name, "item", 1, token, null));
        await Expect(HttpStatusCode.Unauthorized, null, Buyers.Order(sale.Name, "item", 1, null, "f"));
        await Expect(HttpStatusCode.Unauthorized, null, Buyers.Order(sale.Name, "item", 1, "not.a.token", "g"));
        await Expect(HttpStatusCode.Unauthorized, null, Buyers.Order(sale.Name, "item", 1, expired, "h"));
        HttpRequestMessage Raw(string body, string key, string contentType = "application/json")
        {
            var request = new HttpRequestMessage(HttpMethod.Post, $"/api/sales/{sale.Name}/orders") { Content = new StringContent(body, Encoding.UTF8, contentType) };
            request.Headers.Authorization = new("Bearer", token);
            request.Headers.Add("Idempotency-Key", key);
            return request;
        }
        await Expect(HttpStatusCode.BadRequest, Problems.MalformedRequest, Raw("{\"sku\": \"item\", \"quantity\": ", "i"));
        await Expect(HttpStatusCode.BadRequest, Problems.MalformedRequest, Raw("{\"sku\": \"item\", \"quantity\": \"many\"}", "j"));
        await Expect(HttpStatusCode.BadRequest, Problems.MalformedRequest, Raw("{\"sku\": \"item\", \"quantity\": 1} {}", "j2")); // trailing data
        await Expect(HttpStatusCode.UnsupportedMediaType, Problems.MalformedRequest, Raw("sku=item&quantity=1", "j3", "application/x-www-form-urlencoded"));
        await Expect(HttpStatusCode.BadRequest, "VALIDATION", Raw("", "j4")); // no body: the fields are missing
        await Expect(HttpStatusCode.BadRequest, "VALIDATION", Raw("null", "j5"));

        var audit = await World.AuditAsync(stock, sale.Name);
        Assert.Equal(10, audit.Products.Single().Remaining);
        Assert.Equal(0, audit.Products.Single().ReservedInRedis);
        Assert.Equal(0, audit.OrdersInPostgres);
        Assert.Equal(0, audit.PendingStreamEntries);
    }

    [Fact]
    public async Task AnOrderIsVisibleToItsOwnerOnlyAndListedInPages()
    {
        var sale = await World.NewSaleAsync(stock: 10, limit: 5);
        var orders = World.StartOrders();
        using var http = orders.Client();
        var owner = TestTokens.Mint(Guid.NewGuid());
        var locations = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            using var r = await http.SendAsync(Buyers.Order(sale.Name, "item", 1, owner, "k" + i));
            Assert.Equal(HttpStatusCode.Accepted, r.StatusCode);
            locations.Add(r.Headers.Location!.ToString());
        }
        await World.WaitForOrdersAsync(sale.Name, 3);
        using var mine = new HttpRequestMessage(HttpMethod.Get, locations[0]);
        mine.Headers.Authorization = new("Bearer", owner);
        using var mineResponse = await http.SendAsync(mine);
        Assert.Equal(HttpStatusCode.OK, mineResponse.StatusCode);
        Assert.Contains("\"status\":\"RESERVED\"", await mineResponse.Content.ReadAsStringAsync());

        using var theirs = new HttpRequestMessage(HttpMethod.Get, locations[0]);
        theirs.Headers.Authorization = new("Bearer", TestTokens.Mint(Guid.NewGuid()));
        Assert.Equal(HttpStatusCode.NotFound, (await http.SendAsync(theirs)).StatusCode);

        using var page = new HttpRequestMessage(HttpMethod.Get, "/api/orders?page=1&pageSize=2");
        page.Headers.Authorization = new("Bearer", owner);
        var list = JsonDocument.Parse(await (await http.SendAsync(page)).Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(2, list.GetProperty("items").GetArrayLength());
        Assert.True(list.GetProperty("hasMore").GetBoolean());
        using var anonymous = await http.GetAsync("/api/orders");
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
    }
}
