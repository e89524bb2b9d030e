using System.Text.Json;

namespace FlashSale.Users.Tests;

static class ProblemAssert
{
    /// <summary>Asserts a ProblemDetails response with the status (and reason, when given) and returns its body.</summary>
    public static async Task<JsonElement> IsProblemAsync(this HttpResponseMessage response, HttpStatusCode status, string? reason = null)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(status == response.StatusCode, $"expected {status}, got {response.StatusCode}: {body}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.DoesNotContain("Exception", body);
        var problem = JsonDocument.Parse(body).RootElement;
        Assert.Equal((int)status, problem.GetProperty("status").GetInt32());
        if (reason is not null) Assert.Equal(reason, problem.GetProperty("reason").GetString());
        return problem;
    }
}
