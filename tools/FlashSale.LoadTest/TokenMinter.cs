using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace FlashSale.LoadTest;

/// <summary>
/// An RSA key of its own that signs buyers' and admins' tokens, standing in for the users service: services trust it through
/// <c>Auth:Jwks</c> (an inline JWKS), the same validation path as the users service's JWKS endpoint. The one minter of the
/// bench and of every test (tests/FlashSale.TestSupport's TestTokens is one instance of it).
/// </summary>
public sealed class TokenMinter(string? keyId = null)
{
    public const string Issuer = "flashsale", Audience = "flashsale";
    readonly RSA _rsa = RSA.Create(2048);
    readonly JsonWebTokenHandler _handler = new();
    RsaSecurityKey? _key;

    RsaSecurityKey Key => _key ??= new RsaSecurityKey(_rsa) { KeyId = keyId ?? "k-" + Guid.NewGuid().ToString("N")[..8] };

    public string KeyId => Key.KeyId;

    public Dictionary<string, string> Jwk()
    {
        var p = _rsa.ExportParameters(false);
        return new()
        {
            ["kty"] = "RSA", ["use"] = "sig", ["alg"] = "RS256", ["kid"] = KeyId,
            ["n"] = Base64UrlEncoder.Encode(p.Modulus), ["e"] = Base64UrlEncoder.Encode(p.Exponent),
        };
    }

    /// <summary>A JWKS document with the public keys of <paramref name="minters"/>.</summary>
    public static string JwksOf(params TokenMinter[] minters) => JsonSerializer.Serialize(new { keys = minters.Select(m => m.Jwk()) });

    public string Jwks => JwksOf(this);

    /// <summary>Configuration entries (<c>Auth:*</c>) that make a service trust this minter's tokens.</summary>
    public IEnumerable<KeyValuePair<string, string?>> AuthSettings() =>
        [new("Auth:Issuer", Issuer), new("Auth:Audience", Audience), new("Auth:Jwks", Jwks)];

    public byte[] PublicModulus => _rsa.ExportParameters(false).Modulus!;
    public byte[] PublicKeyPem => Encoding.ASCII.GetBytes(_rsa.ExportSubjectPublicKeyInfoPem());

    /// <param name="userId">The <c>sub</c> claim (a new id when null, unless <paramref name="subject"/> gives it verbatim).</param>
    public string Mint(Guid? userId = null, string? name = null, bool admin = false, TimeSpan? lifetime = null, DateTime? notBefore = null,
        string issuer = Issuer, string audience = Audience, string? subject = null, string? email = null)
    {
        var now = notBefore ?? DateTime.UtcNow;
        var sub = subject ?? (userId ?? Guid.NewGuid()).ToString();
        var claims = new Dictionary<string, object> { ["sub"] = sub, ["name"] = name ?? "buyer-" + sub[..Math.Min(8, sub.Length)] };
        if (admin) claims["role"] = "admin";
        if (email is not null) claims["email"] = email;
        return _handler.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = issuer,
            Audience = audience,
            Claims = claims,
            NotBefore = now,
            IssuedAt = now,
            Expires = now + (lifetime ?? TimeSpan.FromHours(1)),
            SigningCredentials = new SigningCredentials(Key, SecurityAlgorithms.RsaSha256),
        });
    }
}
