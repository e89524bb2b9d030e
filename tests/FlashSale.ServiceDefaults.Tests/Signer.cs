using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace FlashSale.ServiceDefaults.Tests;

/// <summary>A test RSA key that mints any token (other issuers, audiences, lifetimes) and publishes itself as a JWKS.</summary>
sealed class Signer
{
    readonly RSA _rsa = RSA.Create(2048);
    readonly RsaSecurityKey _key;

    public Signer(string? kid = null) => _key = new RsaSecurityKey(_rsa) { KeyId = kid ?? "k-" + Guid.NewGuid().ToString("N")[..8] };

    public string KeyId => _key.KeyId;

    public Dictionary<string, string> Jwk()
    {
        var p = _rsa.ExportParameters(false);
        return new()
        {
            ["kty"] = "RSA", ["use"] = "sig", ["alg"] = "RS256", ["kid"] = KeyId,
            ["n"] = Base64UrlEncoder.Encode(p.Modulus), ["e"] = Base64UrlEncoder.Encode(p.Exponent),
        };
    }

    public static string Jwks(params Signer[] signers) => JsonSerializer.Serialize(new { keys = signers.Select(s => s.Jwk()) });

    public string Jwks() => Jwks(this);

    public IEnumerable<KeyValuePair<string, string?>> Settings() =>
        [new("Auth:Issuer", "flashsale"), new("Auth:Audience", "flashsale"), new("Auth:Jwks", Jwks())];

    public string Mint(Guid? sub = null, string issuer = "flashsale", string audience = "flashsale",
        DateTime? notBefore = null, TimeSpan? lifetime = null, string? subject = null, bool admin = false)
    {
        var now = notBefore ?? DateTime.UtcNow;
        var claims = new Dictionary<string, object> { ["sub"] = subject ?? (sub ?? Guid.NewGuid()).ToString(), ["name"] = "alice" };
        if (admin) claims["role"] = "admin";
        return new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = issuer,
            Audience = audience,
            Claims = claims,
            NotBefore = now,
            IssuedAt = now,
            Expires = now + (lifetime ?? TimeSpan.FromMinutes(10)),
            SigningCredentials = new SigningCredentials(_key, SecurityAlgorithms.RsaSha256),
        });
    }

    /// <summary>A token with the given header, signed with HMAC-SHA256 keyed by <paramref name="secret"/> (or unsigned for alg none).</summary>
    public static string Forge(object header, object payload, byte[]? secret)
    {
        var head = Base64UrlEncoder.Encode(JsonSerializer.Serialize(header));
        var body = Base64UrlEncoder.Encode(JsonSerializer.Serialize(payload));
        var signature = secret is null ? "" : Base64UrlEncoder.Encode(HMACSHA256.HashData(secret, Encoding.ASCII.GetBytes(head + "." + body)));
        return head + "." + body + "." + signature;
    }

    public byte[] PublicModulus => _rsa.ExportParameters(false).Modulus!;
    public byte[] PublicKeyPem => Encoding.ASCII.GetBytes(_rsa.ExportSubjectPublicKeyInfoPem());
}
