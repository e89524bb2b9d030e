using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.IdentityModel.Tokens;

namespace FlashSale.ServiceDefaults.Tests;

/// <summary>Tokens no honest signer makes: other algorithms, no signature.</summary>
static class Forged
{
    /// <summary>A token with the given header, signed with HMAC-SHA256 keyed by <paramref name="secret"/> (or unsigned for alg none).</summary>
    public static string Token(object header, object payload, byte[]? secret)
    {
        var head = Base64UrlEncoder.Encode(JsonSerializer.Serialize(header));
        var body = Base64UrlEncoder.Encode(JsonSerializer.Serialize(payload));
        var signature = secret is null ? "" : Base64UrlEncoder.Encode(HMACSHA256.HashData(secret, Encoding.ASCII.GetBytes(head + "." + body)));
        return head + "." + body + "." + signature;
    }
}
