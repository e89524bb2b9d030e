using FlashSale.LoadTest;

namespace FlashSale.LoadTest.Tests;

/// <summary>Which cached tokens the load tool reuses: judged by each token's own expiry, key and claims.</summary>
public class BuyersTests
{
    static readonly TokenMinter Current = new("current");
    static readonly HashSet<string> Kids = ["current"];
    static readonly DateTimeOffset Now = DateTimeOffset.UtcNow;

    static string Token(TimeSpan lifetime, TimeSpan age, bool email = true, TokenMinter? minter = null) =>
        (minter ?? Current).Mint(Guid.NewGuid(), "lt-buyer-000001", lifetime: lifetime, notBefore: (Now - age).UtcDateTime,
            email: email ? "lt-buyer-000001@loadtest.flashsale.local" : null);

    static readonly TimeSpan Twenty = TimeSpan.FromMinutes(20);

    [Theory]
    [InlineData(1, 30, true)]     // a 1 h token with 30 min left
    [InlineData(1, 45, false)]    // a 1 h token with 15 min left
    [InlineData(12, 600, true)]   // a 12 h token with 2 h left
    [InlineData(12, 710, false)]  // a 12 h token with 10 min left
    public void ACachedTokenIsReusedWhileItsOwnExpiryLeavesTheRunItsTime(int lifetimeHours, int ageMinutes, bool reusable) =>
        Assert.Equal(reusable, Buyers.Reusable(Token(TimeSpan.FromHours(lifetimeHours), TimeSpan.FromMinutes(ageMinutes)), Now, Twenty, Kids));

    [Fact]
    public void AShortLivedTokenNeedsHalfItsLifetimeLeftNotTheFullMinimum()
    {
        Assert.True(Buyers.Reusable(Token(TimeSpan.FromMinutes(20), TimeSpan.FromMinutes(5)), Now, Twenty, Kids));
        Assert.False(Buyers.Reusable(Token(TimeSpan.FromMinutes(20), TimeSpan.FromMinutes(12)), Now, Twenty, Kids));
    }

    [Fact]
    public void ATokenWithoutTheEmailClaimOrOfAnotherKeyIsNotReused()
    {
        Assert.False(Buyers.Reusable(Token(TimeSpan.FromHours(12), TimeSpan.Zero, email: false), Now, Twenty, Kids));
        Assert.False(Buyers.Reusable(Token(TimeSpan.FromHours(12), TimeSpan.Zero, minter: new TokenMinter("rotated-out")), Now, Twenty, Kids));
        Assert.False(Buyers.Reusable("not a token", Now, Twenty, Kids));
    }
}
