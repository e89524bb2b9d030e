using System.Net.Http.Headers;
using System.Text;
using FlashSale.LoadTest;
using FlashSale.Sales;
using StackExchange.Redis;

const string Usage = """
    FlashSale load tool
      prepare  --file examples/flashsale.yaml [--sale NAME] [--namespace NS] [--starts-in 10s] [--ends-in 10m] [--redis HOST:PORT] [--rabbitmq URI]
               [--out FILE [--write-only]]
               parse + validate a sale file, move its window to now, preload Redis, declare the RabbitMQ topology
               (--out writes the moved sale file, e.g. for `FlashSale.Operator local --file`; --write-only stops there)
      cleanup  --sale NAME [--namespace default] [--redis HOST:PORT] [--rabbitmq URI]
               delete a sale's Redis keys and RabbitMQ topology (its orders in PostgreSQL stay)
      buyers   [--users-url URL] [--buyers 2000] [--prefix lt-buyer] [--cache .run/loadtest/tokens.json] [--min-validity 20m]
               register (when new) and log in the buyers; a cached token is reused while its own expiry leaves it --min-validity
               (or half its lifetime if shorter) and it carries the email claim
      sale     --sale NAME [--users-url URL] [--orders-url URL] [--stock-url URL] [--notifications-url http://127.0.0.1:5104]
               [--admin-username NAME] [--admin-password-file FILE] [--buyers 2000] [--attempts 30000] [--connections 256]
               [--rate REQ_PER_S] [--pay-share 0.6] [--payment-timeout 30s] [--resale-timeout 120s] [--resale-rate 300]
               [--resale-connections 32] [--mail-timeout 120s] [--maildir .run/mail] [--drain-timeout 120s] [--json FILE]
               a whole local sale: buyers log in; the burst starts when the platform's clock opens the sale (earlier
               attempts are reported apart); the outbox drains; --pay-share of the orders is paid (wallets topped up by the
               admin where short), the rest expire and the buyers still trying buy the returned units again (paced) and pay;
               every reserved/paid/expired mail must reach the buyer's address in the Maildir once; audit; exit 1 if it fails.
               The admin is the users service's own (Users:Admin:Username/Password): by default its username and password
               are read from .run/secrets/flashsale-admin/username and .../password. --payment-timeout must be the sale
               file's paymentTimeout (the products view does not carry it): the resale waits for the expiries by it.
      load     --url URL [--path /healthz/live] [--method GET] [--body JSON] [--header 'K: V'] [--idempotency]
               [--connections 256] [--duration 10s | --total N] [--rate REQ_PER_S] [--json FILE]
               generic closed-loop load (or open loop with --rate: request i due at i/rate, at most --connections in flight,
               latency from the due time)
      bench    [--duration 10s] [--warmup 10s] [--rounds 3] [--connections 256] [--buyers 10000] [--drain-orders 200000] [--paced-rate REQ_PER_S]
               [--gates redis,redis-relay-off,postgres-row-lock,postgres-optimistic] [--slo-p99 25] [--slo-steps 4] [--json FILE] ...
               HTTP ceiling vs order path with each stock gate (closed loop; the ceiling alternates with the first gate in rounds),
               the redis gate again open loop below saturation and the highest open-loop rate with p99 under --slo-p99 ms,
               and the outbox drain rate (see docs/benchmarks.md)
    """;

if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
{
    Console.WriteLine(Usage);
    return args.Length == 0 ? 2 : 0;
}
try
{
    var options = new Args(args.Skip(1));
    return args[0] switch
    {
        "prepare" => await SaleCommands.PrepareAsync(options),
        "cleanup" => await SaleCommands.CleanupAsync(options),
        "buyers" => await SaleCommands.BuyersAsync(options),
        "sale" => await SaleCommands.SaleAsync(options),
        "load" => await LoadAsync(options),
        "bench" => await Bench.RunAsync(options),
        _ => throw new UsageException($"unknown command '{args[0]}'"),
    };
}
catch (UsageException e)
{
    Console.Error.WriteLine($"error: {e.Message}");
    Console.Error.WriteLine(Usage);
    return 2;
}
catch (SaleFileException e)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return 2;
}
catch (Exception e) when (e is TimeoutException or HttpRequestException or InvalidOperationException or IOException or RedisConnectionException)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return 1;
}

static async Task<int> LoadAsync(Args a)
{
    var url = new Uri(a.Required("url"));
    var path = a.Str("path", "/healthz/live");
    var method = new HttpMethod(a.Str("method", "GET"));
    var body = a.Get("body") is { } b ? Encoding.UTF8.GetBytes(b) : null;
    var header = a.Get("header");
    var idempotency = a.Flag("idempotency");
    var connections = a.Int("connections", 256);
    var duration = a.Get("total") is null ? a.Duration("duration", TimeSpan.FromSeconds(10)) : (TimeSpan?)null;
    var total = a.Get("total") is not null ? a.Long("total", 0) : (long?)null;
    var rate = a.Get("rate") is not null ? a.Double("rate", 0) : (double?)null;
    var json = a.Get("json");
    a.EnsureAllUsed();
    HttpRequestMessage NewRequest(long i)
    {
        var request = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            request.Content = new ByteArrayContent(body);
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        }
        if (header is not null && header.IndexOf(':') is > 0 and var colon) request.Headers.TryAddWithoutValidation(header[..colon].Trim(), header[(colon + 1)..].Trim());
        if (idempotency) request.Headers.TryAddWithoutValidation("Idempotency-Key", Requests.NewIdempotencyKey());
        return request;
    }
    var result = await LoadRunner.RunAsync(new LoadPlan("load", url, connections, NewRequest, duration, total, rate));
    Console.WriteLine(Report.Answers(result));
    Console.WriteLine(Report.Latency(result));
    Report.WriteJson(json, Report.Summary(result));
    return result.Errors == 0 ? 0 : 1;
}
