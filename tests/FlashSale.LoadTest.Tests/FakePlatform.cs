using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.IdentityModel.JsonWebTokens;

namespace FlashSale.LoadTest.Tests;

/// <summary>
/// The four services' APIs as the lifecycle uses them, in one Kestrel on loopback, over one in-memory sale: users (register,
/// login, wallet, top-ups), orders (reserve, pay, read; unpaid orders expire and return their units), stock (products, audit),
/// notifications (list) and a Maildir written as the SMTP sink would. It cannot catch anything of the real services' own
/// behaviour (outbox, events, PostgreSQL): it checks the lifecycle's driving and bookkeeping, nothing more.
/// </summary>
public sealed class FakePlatform : IAsyncDisposable
{
    sealed record User(Guid Id, string Username, string Password, string Email) { public decimal Balance { get; set; } = 1000; }
    sealed record Product(string Sku, decimal Price, long Stock, int Limit) { public long Remaining { get; set; } = Stock; public long Reserved { get; set; } public long Released { get; set; } }
    sealed class Order(Guid id, User user, string sku, DateTimeOffset created, DateTimeOffset due)
    {
        public Guid Id = id; public User User = user; public string Sku = sku; public DateTimeOffset Created = created, Due = due; public string Status = "RESERVED";
    }
    sealed record Note(Guid OrderId, string Template, string Recipient);

    readonly Lock _lock = new();
    readonly TokenMinter _minter = new("fake");
    readonly Dictionary<string, User> _users = new(StringComparer.OrdinalIgnoreCase);
    readonly Dictionary<Guid, Order> _orders = [];
    readonly List<Note> _notes = [];
    readonly Dictionary<(Guid, string), int> _held = [];
    readonly WebApplication _app;
    readonly Timer _expiry;
    int _mails;

    public string Sale { get; } = "fake-sale";
    public string Maildir { get; }
    public DateTimeOffset StartsAt { get; }
    public TimeSpan PaymentTimeout { get; }
    List<Product> Products { get; }
    public Uri Url { get; private set; } = null!;
    /// <summary>Mail every paid order twice (a duplicate the check must find).</summary>
    public bool DuplicatePaidMails { get; set; }

    public FakePlatform(string maildir, TimeSpan startsIn, TimeSpan paymentTimeout)
    {
        Maildir = maildir;
        foreach (var d in new[] { "new", "cur", "tmp" }) Directory.CreateDirectory(Path.Combine(maildir, d));
        StartsAt = DateTimeOffset.UtcNow + startsIn;
        PaymentTimeout = paymentTimeout;
        Products = [new Product("console-x", 399m, 25, 1), new Product("headset-pro", 89.9m, 15, 2)];
        _users["root"] = new User(Guid.NewGuid(), "root", "admin-pw", "root@flashsale.local");
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        _app = builder.Build();
        Map(_app);
        _expiry = new Timer(_ => Expire(), null, 100, 100);
    }

    public async Task StartAsync()
    {
        await _app.StartAsync();
        Url = new Uri(_app.Urls.First());
    }

    public async ValueTask DisposeAsync()
    {
        await _expiry.DisposeAsync();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    string Token(User u) => _minter.Mint(u.Id, u.Username, email: u.Email);

    object TokenAnswer(User u) => new { accessToken = Token(u), tokenType = "Bearer", expiresIn = 3600, expiresAt = DateTimeOffset.UtcNow.AddHours(1) };

    User? Caller(HttpContext http)
    {
        var auth = http.Request.Headers.Authorization.ToString();
        if (!auth.StartsWith("Bearer ", StringComparison.Ordinal)) return null;
        var id = Guid.Parse(new JsonWebToken(auth[7..]).Subject);
        lock (_lock) return _users.Values.FirstOrDefault(u => u.Id == id);
    }

    static IResult Problem(int status, string reason) => Results.Json(new { status, reason }, statusCode: status);

    void Mail(Order o, string e)
    {
        var copies = e == "paid" && DuplicatePaidMails ? 2 : 1;
        for (var i = 0; i < copies; i++)
        {
            var name = $"{DateTimeOffset.UtcNow.ToUnixTimeSeconds()}.M{Interlocked.Increment(ref _mails)}P1.fake";
            File.WriteAllText(Path.Combine(Maildir, "tmp", name), $"Subject: Order {o.Id} {e}\nTo: {o.User.Email}\nX-RcptTo: {o.User.Email}\n\nbody\n");
            File.Move(Path.Combine(Maildir, "tmp", name), Path.Combine(Maildir, "new", name));
        }
        _notes.Add(new Note(o.Id, "order-" + e, o.User.Email));
    }

    void Expire()
    {
        lock (_lock)
            foreach (var o in _orders.Values.Where(o => o.Status == "RESERVED" && o.Due <= DateTimeOffset.UtcNow))
            {
                o.Status = "EXPIRED";
                var p = Products.Single(p => p.Sku == o.Sku);
                p.Remaining++;
                p.Released++;
                _held[(o.User.Id, o.Sku)]--;
                Mail(o, "expired");
            }
    }

    object View(Order o) => new
    {
        orderId = o.Id, sale = Sale, sku = o.Sku, quantity = 1, unitPrice = Products.Single(p => p.Sku == o.Sku).Price, currency = "EUR",
        status = o.Status, createdAt = o.Created, paymentDueAt = o.Due,
    };

    sealed record Credentials(string Username, string Password, string? Email);
    sealed record PlaceOrder(string Sku, int Quantity);
    sealed record TopUp(decimal Amount);

    void Map(WebApplication app)
    {
        app.MapGet("/.well-known/jwks.json", () => Results.Json(new { keys = new[] { new { kid = "fake" } } }));
        app.MapPost("/api/users", (Credentials c) =>
        {
            lock (_lock)
            {
                if (_users.ContainsKey(c.Username)) return Problem(409, "USERNAME_TAKEN");
                var u = _users[c.Username] = new User(Guid.NewGuid(), c.Username, c.Password, c.Email!);
                return Results.Json(new { id = u.Id, token = TokenAnswer(u) }, statusCode: 201);
            }
        });
        app.MapPost("/api/users/login", (Credentials c) =>
        {
            lock (_lock)
                return _users.TryGetValue(c.Username, out var u) && u.Password == c.Password ? Results.Json(TokenAnswer(u)) : Problem(401, "INVALID_CREDENTIALS");
        });
        app.MapGet("/api/wallet", (HttpContext http) =>
        {
            var u = Caller(http)!;
            lock (_lock) return Results.Json(new { userId = u.Id, balance = u.Balance, currency = "EUR" });
        });
        app.MapPost("/api/users/{id:guid}/wallet/topups", (Guid id, TopUp t, HttpContext http) =>
        {
            if (Caller(http)?.Username != "root") return Problem(403, "FORBIDDEN");
            lock (_lock)
            {
                var u = _users.Values.Single(u => u.Id == id);
                u.Balance += t.Amount;
                return Results.Json(new { userId = u.Id, balance = u.Balance, currency = "EUR" });
            }
        });
        app.MapPost("/api/sales/{sale}/orders", (string sale, PlaceOrder body, HttpContext http) =>
        {
            var u = Caller(http)!;
            lock (_lock)
            {
                var now = DateTimeOffset.UtcNow;
                if (now < StartsAt) return Problem(409, "NOT_STARTED");
                var p = Products.Single(p => p.Sku == body.Sku);
                if (_held.GetValueOrDefault((u.Id, p.Sku)) + 1 > p.Limit) return Problem(409, "LIMIT_REACHED");
                if (p.Remaining < 1) return Problem(409, "SOLD_OUT");
                p.Remaining--;
                p.Reserved++;
                _held[(u.Id, p.Sku)] = _held.GetValueOrDefault((u.Id, p.Sku)) + 1;
                var order = new Order(Guid.CreateVersion7(), u, p.Sku, now, now + PaymentTimeout);
                _orders[order.Id] = order;
                Mail(order, "reserved");
                return Results.Json(new { orderId = order.Id, status = "RESERVED", sale, sku = p.Sku, quantity = 1 }, statusCode: 202);
            }
        });
        app.MapPost("/api/orders/{id:guid}/payment", (Guid id, HttpContext http) =>
        {
            var u = Caller(http)!;
            lock (_lock)
            {
                if (!_orders.TryGetValue(id, out var o) || o.User != u) return Problem(404, "ORDER_NOT_FOUND");
                if (o.Status == "PAID") return Results.Json(View(o));
                if (o.Status == "EXPIRED" || o.Due <= DateTimeOffset.UtcNow) return Problem(409, "EXPIRED");
                var price = Products.Single(p => p.Sku == o.Sku).Price;
                if (u.Balance < price) return Problem(409, "INSUFFICIENT_FUNDS");
                u.Balance -= price;
                o.Status = "PAID";
                Mail(o, "paid");
                return Results.Json(View(o));
            }
        });
        app.MapGet("/api/orders/{id:guid}", (Guid id, HttpContext http) =>
        {
            var u = Caller(http)!;
            lock (_lock) return _orders.TryGetValue(id, out var o) && o.User == u ? Results.Json(View(o)) : Problem(404, "ORDER_NOT_FOUND");
        });
        app.MapGet("/api/sales/{sale}/products", (string sale) =>
        {
            lock (_lock)
            {
                var now = DateTimeOffset.UtcNow;
                var status = now < StartsAt ? "SCHEDULED" : Products.All(p => p.Remaining == 0) ? "SOLD_OUT" : "LIVE";
                return Results.Json(new
                {
                    sale, startsAt = StartsAt, endsAt = StartsAt.AddHours(1), status, now,
                    products = Products.Select(p => new { p.Sku, name = p.Sku, p.Price, currency = "EUR", p.Stock, p.Remaining, perUserLimit = p.Limit, soldOut = p.Remaining == 0 }),
                });
            }
        });
        app.MapGet("/api/sales/{sale}/audit", (string sale) =>
        {
            lock (_lock)
            {
                var products = Products.Select(p => new
                {
                    p.Sku, p.Stock, p.Remaining, reservedInRedis = p.Reserved, releasedInRedis = p.Released,
                    unitsInAcceptedOrders = _orders.Values.Count(o => o.Sku == p.Sku && o.Status != "EXPIRED"),
                    unitsReleasedInPostgres = _orders.Values.Count(o => o.Sku == p.Sku && o.Status == "EXPIRED"),
                    reservedFromEvents = (long?)null, releasedFromEvents = (long?)null,
                    invariantHolds = p.Reserved - p.Released + p.Remaining == p.Stock, postgresAgrees = true,
                }).ToList();
                return Results.Json(new
                {
                    @namespace = "default", sale, gate = "redis", at = DateTimeOffset.UtcNow, products, pendingStreamEntries = 0L,
                    ordersInPostgres = (long)_orders.Count, duplicateOrders = 0L, usersOverLimit = (long)_held.Count(h => h.Value > Products.Single(p => p.Sku == h.Key.Item2).Limit),
                    drained = true, consistent = products.All(p => p.invariantHolds),
                });
            }
        });
        app.MapGet("/api/notifications", (HttpContext http, int page, int pageSize) =>
        {
            var u = Caller(http)!;
            lock (_lock)
            {
                var mine = _notes.Where(n => n.Recipient == u.Email).Reverse().ToList();
                var items = mine.Skip((page - 1) * pageSize).Take(pageSize).Select(n => new { n.OrderId, n.Template, n.Recipient, status = "sent" });
                return Results.Json(new { items, page, pageSize, hasMore = mine.Count > page * pageSize });
            }
        });
    }
}
