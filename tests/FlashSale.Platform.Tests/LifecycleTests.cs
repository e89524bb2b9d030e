using System.Net;
using System.Net.Http.Json;
using FlashSale.LoadTest;
using Xunit.Abstractions;

namespace FlashSale.Platform.Tests;

/// <summary>
/// The assembled platform, end to end: examples/flashsale.yaml rendered by the operator, the four services started as
/// processes from that rendering only, and a small sale lived by its buyers over HTTP (burst, payments, expiries, resale,
/// mails into a real SMTP sink), then the extended audit. A setting the lifecycle needs that the rendering lacks fails it.
/// </summary>
public sealed class LifecycleTests(ITestOutputHelper output)
{
    [Fact]
    public async Task ASmallSaleOfTheExampleLivesItsWholeLifecycleOnTheRenderedPlatform()
    {
        await using var smtp = new TestSmtpServer();
        smtp.Start();
        var sale = "e2e-" + Guid.NewGuid().ToString("N")[..8];
        await using var platform = await RenderedPlatform.CreateAsync(Path.Combine(Infra.RepoRoot, "examples", "flashsale.yaml"), sale, smtp.Port);
        try
        {
            // As `make run`: rendered once to start users (its Deployment names the sale), then the window moved to "now".
            string[] demo = ["users:Users__LoginRateLimit__PerAddress=1000000", "users:Users__PasswordHashIterations=100000",
                "users:Users__RegistrationRateLimit__PerAddress=1000000", "users:Users__RegistrationRateLimit__Global=1000000"];
            await platform.RenderAsync("1h", "2h", "20s", demo);
            await platform.StartAsync("users");

            // The bootstrap admin (from the admin Secret) is the only admin: a registered "admin"-like name is not.
            using var users = new HttpClient { BaseAddress = platform.Url("users") };
            var login = await users.PostAsJsonAsync("/api/users/login", new { username = platform.AdminUsername, password = await File.ReadAllTextAsync(platform.AdminPasswordFile) });
            Assert.Equal(HttpStatusCode.OK, login.StatusCode);

            await platform.RenderAsync("12s", "10m", "20s", demo);
            await platform.StartAsync("orders", "stock", "notifications");

            var result = await Lifecycle.RunAsync(new LifecycleOptions
            {
                Sale = sale,
                AdminUsername = platform.AdminUsername,
                AdminPassword = await File.ReadAllTextAsync(platform.AdminPasswordFile),
                UsersUrl = platform.Url("users"),
                OrdersUrl = platform.Url("orders"),
                StockUrl = platform.Url("stock"),
                NotificationsUrl = platform.Url("notifications"),
                Buyers = 150,
                Prefix = "e2e" + Guid.NewGuid().ToString("N")[..6],
                TokenCache = Path.Combine(platform.Directory, "tokens.json"),
                Attempts = 3000,
                Connections = 32,
                PayShare = 0.5,
                PaymentTimeout = TimeSpan.FromSeconds(20),
                ResaleTimeout = TimeSpan.FromSeconds(90),
                MailTimeout = TimeSpan.FromSeconds(90),
                Maildir = smtp.Maildir,
                Progress = false,
            }, CancellationToken.None);

            output.WriteLine(System.Text.Json.JsonSerializer.Serialize(result.Summary(), new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
            Assert.True(result.Ok, "the lifecycle failed: " + string.Join("; ", result.Failures));
            Assert.True(result.Paid > 0 && result.Expired > 0 && result.Resold > 0, $"paid {result.Paid}, expired {result.Expired}, resold {result.Resold}");
            Assert.Equal(result.Accepted + result.Resold, result.Final!.OrdersInPostgres);
        }
        catch
        {
            foreach (var service in RenderedPlatform.Services)
            {
                output.WriteLine($"--- {service} ---\n{platform.Tail(service)}");
            }

            throw;
        }
    }
}
