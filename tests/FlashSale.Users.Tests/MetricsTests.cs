using System.Diagnostics;

namespace FlashSale.Users.Tests;

public sealed class MetricsTests(UsersFixture fixture) : IClassFixture<UsersFixture>
{
    [Fact]
    public async Task TheUsersServiceMetricsPassPromtoolAndCountRegistrationsAndDebits()
    {
        var (_, token) = await fixture.NewUserAsync();
        await fixture.SendAsync(HttpMethod.Post, "/api/wallet/debits", token, new { orderId = Guid.CreateVersion7(), amount = 1m, currency = "EUR" });
        await fixture.Client.GetAsync("/api/users/me");

        var response = await fixture.Client.GetAsync("/metrics");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var text = await response.Content.ReadAsStringAsync();

        var psi = new ProcessStartInfo("promtool", "check metrics") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        using var promtool = Process.Start(psi)!;
        await promtool.StandardInput.WriteAsync(text);
        promtool.StandardInput.Close();
        var output = await promtool.StandardOutput.ReadToEndAsync() + await promtool.StandardError.ReadToEndAsync();
        await promtool.WaitForExitAsync();
        Assert.True(promtool.ExitCode == 0 && output.Trim().Length == 0, $"promtool: {output}\n{text}");

        Assert.Contains("users_registrations_total{outcome=\"created\"}", text);
        Assert.Contains("wallet_debits_total{outcome=\"debited\"}", text);
        Assert.Contains("http_server_request_duration_seconds_bucket{method=\"POST\",route=\"/api/wallet/debits\",status=\"200\",le=\"+Inf\"}", text);
        Assert.Contains("http_server_request_duration_seconds_count{method=\"GET\",route=\"/api/users/me\",status=\"401\"}", text);
    }
}
