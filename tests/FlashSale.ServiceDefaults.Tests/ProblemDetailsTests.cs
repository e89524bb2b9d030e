using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace FlashSale.ServiceDefaults.Tests;

public sealed class ProblemDetailsTests : IAsyncLifetime
{
    public sealed record Order(string Sku, int Quantity);

    WebApplication _app = null!;
    HttpClient _client = null!;

    public async Task InitializeAsync()
    {
        _app = await TestApp.StartAsync(TestTokens.AuthSettings(), app =>
        {
            app.MapGet("/boom", string () => throw new InvalidOperationException("secret connection string Password=hunter2"));
            app.MapPost("/orders", (Order order) => TypedResults.Ok(order));
            app.MapGet("/sold-out", () => Problems.ReasonProblem(409, "SOLD_OUT", "The product is sold out.", "sku ABC"));
            app.MapGet("/invalid", () => Problems.ValidationProblem(new Dictionary<string, string[]> { ["quantity"] = ["Must be at least 1."] }));
        });
        _client = _app.Client();
    }

    public async Task DisposeAsync() => await _app.DisposeAsync();

    static async Task<JsonElement> AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.DoesNotMatch(@"at [\w.`<>]+\(", body); // no stack frames
        Assert.DoesNotContain("Exception", body);      // no exception type names
        var problem = JsonDocument.Parse(body).RootElement;
        Assert.Equal((int)status, problem.GetProperty("status").GetInt32());
        Assert.False(string.IsNullOrEmpty(problem.GetProperty("title").GetString()));
        return problem;
    }

    [Fact]
    public async Task AnUnhandledExceptionGivesA500ProblemWithoutTheExceptionDetails()
    {
        var response = await _client.GetAsync("/boom");
        await AssertProblemAsync(response, HttpStatusCode.InternalServerError);
        Assert.DoesNotContain("hunter2", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task AnUnknownPathGivesA404Problem() =>
        await AssertProblemAsync(await _client.GetAsync("/nowhere"), HttpStatusCode.NotFound);

    [Fact]
    public async Task AWrongMethodGivesA405Problem() =>
        await AssertProblemAsync(await _client.DeleteAsync("/orders"), HttpStatusCode.MethodNotAllowed);

    [Fact]
    public async Task AWrongContentTypeGivesA415Problem() =>
        await AssertProblemAsync(await _client.PostAsync("/orders", new StringContent("sku=A", Encoding.UTF8, "text/plain")), HttpStatusCode.UnsupportedMediaType);

    [Theory]
    [InlineData("{\"sku\": \"A\", \"quantity\": ")]
    [InlineData("not json at all")]
    [InlineData("{\"sku\": \"A\", \"quantity\": \"two\"}")]
    [InlineData("{\"sku\": \"A\", \"quantity\": \"2\"}")]
    [InlineData("[1, 2]")]
    [InlineData("")]
    public async Task ABadRequestBodyGivesA400ProblemWithReasonMalformedRequest(string body)
    {
        var response = await _client.PostAsync("/orders", new StringContent(body, Encoding.UTF8, "application/json"));
        var problem = await AssertProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.Equal("MALFORMED_REQUEST", problem.GetProperty("reason").GetString());
    }

    [Fact]
    public async Task ABodyOverTheLimitGivesA413ProblemBeforeTheEndpointRuns()
    {
        var big = JsonSerializer.Serialize(new Order(new string('x', 70 * 1024), 1));
        var response = await _client.PostAsync("/orders", new StringContent(big, Encoding.UTF8, "application/json"));
        var problem = await AssertProblemAsync(response, HttpStatusCode.RequestEntityTooLarge);
        Assert.Equal("REQUEST_TOO_LARGE", problem.GetProperty("reason").GetString());
    }

    [Fact]
    public async Task AChunkedBodyOverTheLimitGivesA413Problem()
    {
        var big = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(new Order(new string('x', 70 * 1024), 1)));
        using var request = new HttpRequestMessage(HttpMethod.Post, "/orders") { Content = new StreamContent(new MemoryStream(big)) };
        request.Content.Headers.ContentType = new("application/json");
        request.Headers.TransferEncodingChunked = true;
        var response = await _client.SendAsync(request);
        await AssertProblemAsync(response, HttpStatusCode.RequestEntityTooLarge);
    }

    [Fact]
    public async Task AChunkedBodyUnderTheLimitIsRead()
    {
        var body = Encoding.UTF8.GetBytes("{\"sku\":\"A\",\"quantity\":2}");
        using var request = new HttpRequestMessage(HttpMethod.Post, "/orders") { Content = new StreamContent(new MemoryStream(body)) };
        request.Content.Headers.ContentType = new("application/json");
        request.Headers.TransferEncodingChunked = true;
        var response = await _client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(new Order("A", 2), await response.Content.ReadFromJsonAsync<Order>());
    }

    [Fact]
    public async Task AReasonProblemCarriesItsMachineReadableReason()
    {
        var problem = await AssertProblemAsync(await _client.GetAsync("/sold-out"), HttpStatusCode.Conflict);
        Assert.Equal("SOLD_OUT", problem.GetProperty("reason").GetString());
        Assert.Equal("sku ABC", problem.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task AValidationProblemHasReasonValidationAndAnErrorsMap()
    {
        var problem = await AssertProblemAsync(await _client.GetAsync("/invalid"), HttpStatusCode.BadRequest);
        Assert.Equal("VALIDATION", problem.GetProperty("reason").GetString());
        Assert.Equal("Must be at least 1.", problem.GetProperty("errors").GetProperty("quantity")[0].GetString());
    }
}
