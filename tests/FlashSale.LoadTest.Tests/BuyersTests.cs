using System.Security.Cryptography;
using FlashSale.LoadTest;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace FlashSale.LoadTest.Tests;

/// <summary>Which cached tokens the load tool reuses: judged by each token's own expiry, key and claims.</summary>
public class BuyersTests
{
    static readonly SymmetricSecurityKey Key = new(RandomNumberGenerator.GetBytes(32)) { KeyId = "current" };
    static readonly HashSet<string> Kids = ["current"];
    static readonly DateTimeOffset Now = DateTimeOffset.UtcNow;

    static string Token(TimeSpan lifetime, TimeSpan age, bool email = true, SymmetricSecurityKey? key = null)
    {
        var issued = (Now - age).UtcDateTime;
        var claims = new Dictionary<string, object> { ["sub"] = Guid.NewGuid().ToString(), ["name"] = "lt-buyer-000001" };
        if (email) claims["email"] = "lt-buyer-000001@loadtest.flashsale.local";
        return new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Claims = claims, IssuedAt = issued, NotBefore = issued, Expires = issued + lifetime,
            SigningCredentials = new SigningCredentials(key ?? Key, SecurityAlgorithms.HmacSha256),
        });
    }

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
        var old = new SymmetricSecurityKey(RandomNumberGenerator.GetBytes(32)) { KeyId = "rotated-out" };
        Assert.False(Buyers.Reusable(Token(TimeSpan.FromHours(12), TimeSpan.Zero, key: old), Now, Twenty, Kids));
        Assert.False(Buyers.Reusable("not a token", Now, Twenty, Kids));
    }
}
