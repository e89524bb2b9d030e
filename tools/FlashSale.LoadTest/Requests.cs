using System.Globalization;
using System.Security.Cryptography;

namespace FlashSale.LoadTest;

/// <summary>
/// Request building for the load loops, kept cheap because the generator shares the machine with what it measures: headers go
/// in as raw strings (no parsing into header objects per request) and idempotency keys come from a counter behind a random
/// prefix (a GUID per request meant a getrandom call and a format). The requests are the same on the wire.
/// </summary>
public static class Requests
{
    static readonly string KeyPrefix = Convert.ToHexString(RandomNumberGenerator.GetBytes(6)).ToLowerInvariant() + "-";
    static long Keys;

    /// <summary>A key never used before by this process (nor, with its random prefix, by another run).</summary>
    public static string NewIdempotencyKey() => KeyPrefix + Interlocked.Increment(ref Keys).ToString(CultureInfo.InvariantCulture);

    /// <summary>"Bearer " + token, built once per buyer rather than once per request.</summary>
    public static string Bearer(string token) => "Bearer " + token;

    /// <summary>A JSON POST with an Authorization header (already "Bearer ...") and, when given, an Idempotency-Key.</summary>
    public static HttpRequestMessage JsonPost(Uri uri, byte[] body, string? authorization, string? idempotencyKey)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, uri) { Content = new ByteArrayContent(body) };
        request.Content.Headers.TryAddWithoutValidation("Content-Type", "application/json");
        if (authorization is not null) request.Headers.TryAddWithoutValidation("Authorization", authorization);
        if (idempotencyKey is not null) request.Headers.TryAddWithoutValidation("Idempotency-Key", idempotencyKey);
        return request;
    }
}
