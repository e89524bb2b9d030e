using System.Security.Claims;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace FlashSale.TestSupport;

/// <summary>
/// A test signing key the services trust through their normal validation path: configure a service with
/// <c>Auth:Jwks</c> = <see cref="Jwks"/> (inline JWKS), exactly as it would trust the users service's JWKS endpoint.
/// </summary>
public static class TestTokens
{
    public const string Issuer = "flashsale";
    public const string Audience = "flashsale";

    static readonly RSA Rsa = RSA.Create(2048);
    static readonly RsaSecurityKey Key = new(Rsa) { KeyId = "test-key-" + Guid.NewGuid().ToString("N")[..8] };

    public static string Jwks { get; } = BuildJwks();

    /// <summary>Configuration entries that make a service trust test tokens.</summary>
    public static IEnumerable<KeyValuePair<string, string?>> AuthSettings() =>
    [
        new("Auth:Issuer", Issuer),
        new("Auth:Audience", Audience),
        new("Auth:Jwks", Jwks),
    ];

    public static string Mint(Guid userId, string? username = null, bool admin = false, TimeSpan? lifetime = null, DateTime? notBefore = null)
    {
        var now = notBefore ?? DateTime.UtcNow;
        var claims = new Dictionary<string, object>
        {
            ["sub"] = userId.ToString(),
            ["name"] = username ?? "buyer-" + userId.ToString("N")[..8],
        };
        if (admin) claims["role"] = "admin";
        var descriptor = new SecurityTokenDescriptor
        {
            Issuer = Issuer,
            Audience = Audience,
            Claims = claims,
            NotBefore = now,
            IssuedAt = now,
            Expires = now + (lifetime ?? TimeSpan.FromHours(1)),
            SigningCredentials = new SigningCredentials(Key, SecurityAlgorithms.RsaSha256),
        };
        return new JsonWebTokenHandler().CreateToken(descriptor);
    }

    static string BuildJwks()
    {
        var p = Rsa.ExportParameters(false);
        var jwk = new Dictionary<string, string>
        {
            ["kty"] = "RSA", ["use"] = "sig", ["alg"] = "RS256", ["kid"] = Key.KeyId,
            ["n"] = Base64UrlEncoder.Encode(p.Modulus), ["e"] = Base64UrlEncoder.Encode(p.Exponent),
        };
        return JsonSerializer.Serialize(new { keys = new[] { jwk } });
    }
}
