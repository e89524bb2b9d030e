using System.Text;

namespace FlashSale.Orders.Tests;

/// <summary>Input a hostile client sends to the order endpoint is refused with a 4xx ProblemDetails and leaves nothing behind.</summary>
public sealed class HostileInputTests : SaleWorldTests
{
    static async Task<JsonElement> ExpectProblemAsync(HttpClient http, HttpRequestMessage request, HttpStatusCode status, string? reason = null, string? field = null)
    {
        using var response = await http.SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(status == response.StatusCode, $"expected {status}, got {response.StatusCode}: {body}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonDocument.Parse(body).RootElement;
        if (reason is not null) Assert.Equal(reason, problem.GetProperty("reason").GetString());
        if (field is not null) Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), $"no error for {field}: {body}");
        return problem;
    }

    [Fact]
    public async Task ControlCharactersNumbersInStringsAndRepeatedKeysAreRefusedAndStoreNothing()
    {
        var (sale, orders, stock) = await World.OpenSaleAsync(stock: 10, limit: 1);
        using var http = orders.Client();
        var token = TestTokens.Mint(Guid.NewGuid());

        HttpRequestMessage Order(string json, params string[] keys)
        {
            var request = new HttpRequestMessage(HttpMethod.Post, $"/api/sales/{sale.Name}/orders") { Content = new StringContent(json, Encoding.UTF8, "application/json") };
            request.Headers.Authorization = new("Bearer", token);
            foreach (var key in keys) request.Headers.TryAddWithoutValidation("Idempotency-Key", key);
            return request;
        }

        // The sku is a real product once its control character is dropped: only the policy refuses these.
        foreach (var sku in new[] { "item\\u0000", "it\\u0001em", "item\\u007f", "\\u001bitem", "item\\ud800" })
            await ExpectProblemAsync(http, Order($$"""{"sku": "{{sku}}", "quantity": 1}""", Guid.NewGuid().ToString()), HttpStatusCode.BadRequest, "VALIDATION", "sku");
        await ExpectProblemAsync(http, Order("""{"sku": "item", "quantity": "1"}""", "k1"), HttpStatusCode.BadRequest, "MALFORMED_REQUEST");
        await ExpectProblemAsync(http, Order("""{"sku": "item", "quantity": 1}""", "k2", "k3"), HttpStatusCode.BadRequest, "VALIDATION", "Idempotency-Key");
        await ExpectProblemAsync(http, Order("""{"sku": "item", "quantity": 1}""", "k2,k3"), HttpStatusCode.BadRequest, "VALIDATION", "Idempotency-Key");
        foreach (var key in new[] { "k\u0001", "k\u007f", "k\t4" })
            await ExpectProblemAsync(http, Order("""{"sku": "item", "quantity": 1}""", key), HttpStatusCode.BadRequest, "VALIDATION");
        // A control character in the sale's name (a route value) is refused naming it, before the gate looks the sale up.
        var route = new HttpRequestMessage(HttpMethod.Post, $"/api/sales/{sale.Name}%01/orders") { Content = new StringContent("""{"sku": "item", "quantity": 1}""", Encoding.UTF8, "application/json") };
        route.Headers.Authorization = new("Bearer", token);
        route.Headers.Add("Idempotency-Key", "k5");
        await ExpectProblemAsync(http, route, HttpStatusCode.BadRequest, "VALIDATION", "sale");

        var audit = await World.AuditAsync(stock, sale.Name);
        Assert.Equal(10, audit.Products.Single().Remaining);
        Assert.Equal(0, audit.Products.Single().ReservedInRedis);
        Assert.Equal(0, audit.OrdersInPostgres);
        Assert.Equal(0, audit.PendingStreamEntries);
        // The same body, clean and with one key, is accepted: the refusals above were the policy's.
        using var accepted = await http.SendAsync(Order("""{"sku": "item", "quantity": 1}""", "k6"));
        Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
    }

    /// <summary>
    /// Refusals where the app writes the answer. Kestrel's own (URL over 8 KiB: 414, headers over 32 KiB: 431, NUL in the
    /// path: 400) are written by Kestrel before the app runs, with an empty body and the connection closed.
    /// </summary>
    [Fact]
    public async Task RequestsKestrelRefusesBeforeAnEndpointRunsGetProblemDetails()
    {
        var orders = World.StartOrders();
        using var http = orders.Client();
        await ExpectProblemAsync(http, new HttpRequestMessage(HttpMethod.Get, "/no/such/path"), HttpStatusCode.NotFound);
        await ExpectProblemAsync(http, new HttpRequestMessage(HttpMethod.Delete, "/api/sales/x/orders"), HttpStatusCode.MethodNotAllowed);
        var big = new HttpRequestMessage(HttpMethod.Post, "/api/sales/x/orders") { Content = new StringContent(new string('x', 70 * 1024), Encoding.UTF8, "application/json") };
        await ExpectProblemAsync(http, big, HttpStatusCode.RequestEntityTooLarge, "REQUEST_TOO_LARGE");
    }
}
