using System.Security.Cryptography;
using FlashSale.LoadTest;

namespace FlashSale.TestSupport;

/// <summary>
/// The tests' token minter, trusted by a service through its normal validation path: configure it with
/// <see cref="AuthSettings"/> (<c>Auth:Jwks</c> an inline JWKS), exactly as it would trust the users service's JWKS endpoint.
/// </summary>
public static class TestTokens
{
    public const string Issuer = TokenMinter.Issuer;
    public const string Audience = TokenMinter.Audience;

    public static TokenMinter Minter { get; } = new("test-key-" + Guid.NewGuid().ToString("N")[..8]);

    public static string Jwks => Minter.Jwks;

    public static IEnumerable<KeyValuePair<string, string?>> AuthSettings() => Minter.AuthSettings();

    public static string Mint(Guid userId, string? username = null, bool admin = false, TimeSpan? lifetime = null, DateTime? notBefore = null) =>
        Minter.Mint(userId, username, admin, lifetime, notBefore);

    /// <summary>A PKCS#8 PEM RSA key for a users service under test (its own signing key).</summary>
    public static string NewSigningKeyPem()
    {
        using var rsa = RSA.Create(2048);
        return rsa.ExportPkcs8PrivateKeyPem();
    }
}
