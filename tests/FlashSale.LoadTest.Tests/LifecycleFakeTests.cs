using FlashSale.LoadTest;

namespace FlashSale.LoadTest.Tests;

/// <summary>The whole lifecycle with small numbers (60 buyers, 40 units, 300 attempts) against <see cref="FakePlatform"/>.</summary>
public sealed class LifecycleFakeTests : IDisposable
{
    readonly string _dir = Path.Combine(Path.GetTempPath(), "fs-lifecycle-" + Guid.NewGuid().ToString("N"));

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    async Task<(FakePlatform Platform, LifecycleResult Result)> RunAsync(bool duplicatePaidMails = false)
    {
        var platform = new FakePlatform(Path.Combine(_dir, "mail"), startsIn: TimeSpan.FromSeconds(6), paymentTimeout: TimeSpan.FromSeconds(3))
        {
            DuplicatePaidMails = duplicatePaidMails,
        };
        await platform.StartAsync();
        var o = new LifecycleOptions
        {
            Sale = platform.Sale, AdminUsername = "root", AdminPassword = "admin-pw",
            UsersUrl = platform.Url, OrdersUrl = platform.Url, StockUrl = platform.Url, NotificationsUrl = platform.Url,
            Buyers = 60, Attempts = 300, Connections = 16, TokenCache = Path.Combine(_dir, "tokens.json"), LoginParallelism = 8,
            PaymentTimeout = platform.PaymentTimeout, ResaleTimeout = TimeSpan.FromSeconds(20), ResaleRate = 200, ResaleConnections = 8,
            MailTimeout = TimeSpan.FromSeconds(5), Maildir = platform.Maildir, DrainTimeout = TimeSpan.FromSeconds(10), Seed = 42, Progress = false,
        };
        try { return (platform, await Lifecycle.RunAsync(o, CancellationToken.None)); }
        finally { await platform.DisposeAsync(); }
    }

    [Fact]
    public async Task ASaleRunsThroughPaymentExpiryResaleAndMailsWithoutFailures()
    {
        var (_, r) = await RunAsync();
        Assert.Empty(r.Failures);
        Assert.Equal(40, r.Accepted);
        Assert.Equal(24, r.Paid);
        Assert.Equal((16, 16), (r.LeftUnpaid, r.Expired));
        Assert.True(r.ReturnedUnitsResold);
        Assert.Equal((16, 16), (r.Resold, r.ResoldPaid));
        Assert.Equal(0, r.NotStartedInSale);
        Assert.NotNull(r.Early);
        Assert.True(r.Early.Answers.ContainsKey("409 NOT_STARTED"));
        Assert.Equal(r.PaidTotal, r.Debited);
        Assert.Equal(56 + 40 + 16, r.Mails!.Expected);
        Assert.True(r.Mails.Ok);
        Assert.True(r.NotificationsChecked > 0);
        Assert.Equal(40, r.Final!.Sold);
    }

    [Fact]
    public async Task ADuplicatedMailFailsTheSale()
    {
        var (_, r) = await RunAsync(duplicatePaidMails: true);
        Assert.Contains(r.Failures, f => f.Contains("duplicated mails"));
    }
}
