using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using FlashSale.TestSupport;
using RabbitMQ.Client;

namespace FlashSale.Monitoring.Tests;

/// <summary>
/// A short sale of examples/flashsale.yaml on the rendered platform (the services started from the operator's rendering, as
/// the end-to-end test starts them), scraped every second by a private Prometheus, lived so that every metric gets a
/// series: a small burst (accepted and refused orders), one paid order, an order debited behind the orders service's back
/// that expires and is refunded, one that expires unpaid, and one paid after its sale's exchange was deleted (parked).
/// Afterwards it holds each service's /metrics text.
/// </summary>
public sealed partial class MonitoredSale : IAsyncLifetime
{
    public const string Namespace = "default";
    TestSmtpServer? _smtp;
    RenderedPlatform? _platform;
    PrometheusServer? _prometheus;

    public string Sale { get; } = "mon-" + Guid.NewGuid().ToString("N")[..8];
    internal PrometheusServer Prometheus => _prometheus!;
    public IReadOnlyDictionary<string, string> Exposition { get; private set; } = new Dictionary<string, string>();

    public async Task InitializeAsync()
    {
        _ = PrometheusServer.Binary; // fail first, with the command to install it
        _smtp = new TestSmtpServer();
        _smtp.Start();
        _platform = await RenderedPlatform.CreateAsync(Path.Combine(Infra.RepoRoot, "examples", "flashsale.yaml"), Sale, _smtp.Port);
        try
        {
            await LiveAsync(_platform);
        }
        catch (Exception e)
        {
            var tails = string.Join("\n", RenderedPlatform.Services.Select(s => $"--- {s} ---\n{_platform.Tail(s)}"));
            throw new InvalidOperationException($"{e.Message}\n{tails}", e);
        }
    }

    async Task LiveAsync(RenderedPlatform platform)
    {
        await platform.RenderAsync("6s", "10m", "8s", "users:Users__PasswordHashIterations=100000");
        await platform.StartAsync(RenderedPlatform.Services);
        _prometheus = await PrometheusServer.StartAsync(RenderedPlatform.Services.Select(s => new PrometheusServer.Target(
            $"127.0.0.1:{platform.Ports[s]}",
            // The labels a ServiceMonitor gives a sale's series in Kubernetes (targetLabels included).
            new Dictionary<string, string>
            {
                ["namespace"] = Namespace, ["service"] = $"{Sale}-{s}", ["flashsale_dev_sale"] = Sale, ["app_kubernetes_io_component"] = s,
            })));

        using var users = new HttpClient { BaseAddress = platform.Url("users") };
        using var orders = new HttpClient { BaseAddress = platform.Url("orders") };
        var admin = await LoginAsync(users, platform.AdminUsername, await File.ReadAllTextAsync(platform.AdminPasswordFile));
        var (payer, debited, unpaid) = (await BuyerAsync(users, admin), await BuyerAsync(users, admin), await BuyerAsync(users, admin));

        // The burst: the window opens a few seconds after rendering; every buyer tries both products twice (limits refuse some).
        var accepted = new Dictionary<(string Buyer, string Sku), Guid>();
        await Eventually.UntilAsync(async () => (await OrderAsync(orders, payer, "console-x")).Status == HttpStatusCode.Accepted,
            "the sale to open", TimeSpan.FromSeconds(60), TimeSpan.FromMilliseconds(300));
        foreach (var buyer in new[] { payer, debited, unpaid })
            foreach (var sku in new[] { "console-x", "headset-pro", "console-x" })
            {
                var (status, id) = await OrderAsync(orders, buyer, sku);
                if (status == HttpStatusCode.Accepted) accepted.TryAdd((buyer.Token, sku), id);
            }

        // Paid: the payment waits for the relay to write the order.
        await PayAsync(orders, payer, accepted[(payer.Token, "headset-pro")]);
        // Debited by the users service directly, never paid: it expires and the users service refunds the debit.
        var debit = await Send(users, HttpMethod.Post, "/api/wallet/debits", debited.Token,
            new { orderId = accepted[(debited.Token, "headset-pro")], amount = 89.90m, currency = "EUR" });
        Assert.True(debit.IsSuccessStatusCode, $"direct debit: {(int)debit.StatusCode} {await debit.Content.ReadAsStringAsync()}");

        await Eventually.UntilAsync(async () =>
        {
            var text = await orders.GetStringAsync("/metrics");
            return Regex.IsMatch(text, @"^flashsale_orders_units_returned_total\{sku=""headset-pro""\} [1-9]", RegexOptions.Multiline)
                && (await users.GetStringAsync("/metrics")).Contains("wallet_refunds_total", StringComparison.Ordinal);
        }, "the unpaid orders to expire and the debit to be refunded", TimeSpan.FromSeconds(90), TimeSpan.FromMilliseconds(500));

        // Parked: an order relayed before its sale's exchange is deleted, paid after it (order.paid has nowhere to go).
        var late = await BuyerAsync(users, admin);
        var (lastStatus, last) = await OrderAsync(orders, late, "console-x");
        Assert.True(lastStatus is HttpStatusCode.Accepted, $"the last order was answered {lastStatus}");
        await Eventually.UntilAsync(async () => (await Send(orders, HttpMethod.Get, $"/api/orders/{last}", late.Token)).IsSuccessStatusCode,
            "the last order to be relayed", TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(200));
        var factory = new ConnectionFactory { Uri = new Uri(Infra.RabbitMq) };
        await using (var connection = await factory.CreateConnectionAsync())
        await using (var channel = await connection.CreateChannelAsync())
            await channel.ExchangeDeleteAsync($"flashsale.{Namespace}.{Sale}");
        await PayAsync(orders, late, last);
        await Eventually.UntilAsync(async () => (await orders.GetStringAsync("/metrics")).Contains("flashsale_orders_outbox_parked_total{", StringComparison.Ordinal),
            "the paid order's event to be parked", TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(300));

        // Gauges sampled every 5 s and rates over two scrapes or more.
        await Task.Delay(TimeSpan.FromSeconds(8));
        using var http = new HttpClient();
        var exposition = new Dictionary<string, string>();
        foreach (var service in RenderedPlatform.Services) exposition[service] = await http.GetStringAsync(new Uri(platform.Url(service), "/metrics"));
        Exposition = exposition;
        var health = await Prometheus.TargetHealthAsync();
        Assert.All(RenderedPlatform.Services, s => Assert.Equal("up", health[$"{Sale}-{s}"]));
    }

    public sealed record Buyer(Guid Id, string Token);

    static async Task<string> LoginAsync(HttpClient users, string username, string password)
    {
        var login = await users.PostAsJsonAsync("/api/users/login", new { username, password });
        Assert.True(login.IsSuccessStatusCode, $"login of {username}: {(int)login.StatusCode}");
        return (await login.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("accessToken").GetString()!;
    }

    static async Task<Buyer> BuyerAsync(HttpClient users, string admin)
    {
        var name = "mon" + Guid.NewGuid().ToString("N")[..10];
        var registered = await users.PostAsJsonAsync("/api/users", new { username = name, email = $"{name}@monitoring.flashsale.local", password = "monitoring-Secret1!" });
        Assert.True(registered.IsSuccessStatusCode, $"registration: {(int)registered.StatusCode} {await registered.Content.ReadAsStringAsync()}");
        var body = await registered.Content.ReadFromJsonAsync<JsonElement>();
        var buyer = new Buyer(body.GetProperty("id").GetGuid(), body.GetProperty("token").GetProperty("accessToken").GetString()!);
        var topUp = await Send(users, HttpMethod.Post, $"/api/users/{buyer.Id}/wallet/topups", admin, new { amount = 1000m });
        Assert.True(topUp.IsSuccessStatusCode, $"top-up: {(int)topUp.StatusCode}");
        return buyer;
    }

    async Task<(HttpStatusCode Status, Guid Id)> OrderAsync(HttpClient orders, Buyer buyer, string sku)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/sales/{Sale}/orders") { Content = JsonContent.Create(new { sku, quantity = 1 }) };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", buyer.Token);
        request.Headers.Add("Idempotency-Key", Guid.NewGuid().ToString("N"));
        var response = await orders.SendAsync(request);
        if (response.StatusCode != HttpStatusCode.Accepted) return (response.StatusCode, Guid.Empty);
        return (response.StatusCode, (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("orderId").GetGuid());
    }

    static async Task PayAsync(HttpClient orders, Buyer buyer, Guid order)
    {
        HttpResponseMessage? last = null;
        await Eventually.UntilAsync(async () =>
        {
            last = await Send(orders, HttpMethod.Post, $"/api/orders/{order}/payment", buyer.Token);
            return last.IsSuccessStatusCode;
        }, $"payment of order {order}", TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(300));
    }

    static async Task<HttpResponseMessage> Send(HttpClient client, HttpMethod method, string path, string token, object? body = null)
    {
        using var request = new HttpRequestMessage(method, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        if (body is not null) request.Content = JsonContent.Create(body);
        return await client.SendAsync(request);
    }

    public async Task DisposeAsync()
    {
        if (_prometheus is not null) await _prometheus.DisposeAsync();
        if (_platform is not null) await _platform.DisposeAsync();
        if (_smtp is not null) await _smtp.DisposeAsync();
    }
}
