using System.Security.Claims;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace FlashSale.ServiceDefaults;

public static class ClaimsPrincipalExtensions
{
    /// <summary>The user id from the token's <c>sub</c> claim (validated as a Guid when the token was accepted).</summary>
    public static Guid GetUserId(this ClaimsPrincipal user) =>
        Guid.TryParse(user.FindFirstValue(JwtClaims.Subject), out var id)
            ? id
            : throw new InvalidOperationException("The principal has no user id ('sub' claim); is the endpoint missing RequireAuthorization()?");
}

/// <summary>Claim names of FlashSale tokens (kept as in the JWT: inbound claim mapping is off).</summary>
public static class JwtClaims
{
    public const string Subject = "sub";
    public const string Name = "name";
    /// <summary>The buyer's e-mail address: the notifications of an order go there.</summary>
    public const string Email = "email";
    public const string Role = "role";
    public const string AdminRole = "admin";
}

static class JwtSetup
{
    public static readonly TimeSpan ClockSkew = TimeSpan.FromSeconds(30);

    public static void AddJwtAuthentication(IServiceCollection services)
    {
        services.AddHttpClient(JwksKeyCache.HttpClientName, c => c.Timeout = TimeSpan.FromSeconds(5));
        services.AddSingleton<JwksKeyCache>();
        services.AddSingleton(sp =>
        {
            var auth = sp.GetRequiredService<IConfiguration>().GetSection("Auth");
            return new CachingJsonWebTokenHandler(auth.GetValue("TokenCacheSize", CachingJsonWebTokenHandler.DefaultCapacity),
                auth.GetValue("TokenCacheTtl", CachingJsonWebTokenHandler.DefaultTtl))
            { MapInboundClaims = false };
        });
        services.AddTransient<BearerTokenHandler>();
        services.AddAuthentication(o =>
        {
            o.AddScheme<BearerTokenHandler>(BearerTokenOptions.Scheme, null);
            o.DefaultScheme = BearerTokenOptions.Scheme;
        });
        services.AddAuthorization();
        services.AddOptions<BearerTokenOptions>(BearerTokenOptions.Scheme)
            .Configure<IConfiguration, JwksKeyCache>((o, configuration, keys) =>
            {
                var auth = configuration.GetSection("Auth");
                o.TokenValidationParameters = new TokenValidationParameters
                {
                    ValidIssuer = auth["Issuer"] ?? "flashsale",
                    ValidAudience = auth["Audience"] ?? "flashsale",
                    ValidateIssuer = true,
                    ValidateAudience = true,
                    ValidateLifetime = true,
                    RequireExpirationTime = true,
                    RequireSignedTokens = true,
                    ValidateIssuerSigningKey = true,
                    ValidAlgorithms = [SecurityAlgorithms.RsaSha256],
                    ClockSkew = ClockSkew,
                    NameClaimType = JwtClaims.Name,
                    RoleClaimType = JwtClaims.Role,
                    AuthenticationType = BearerTokenOptions.Scheme,
                    IssuerSigningKeyResolver = (_, _, kid, _) => keys.Resolve(kid),
                };
            })
            .Validate<JwksKeyCache>((_, keys) => keys.IsConfigured,
                "Configuration value 'Auth:Jwks' or 'Auth:JwksUrl' is missing (the keys that sign tokens)")
            .ValidateOnStart();
    }
}

/// <summary>
/// Signing keys trusted by this service: an inline JWKS (<c>Auth:Jwks</c>), a JWKS fetched over HTTP (<c>Auth:JwksUrl</c>;
/// cached for <c>Auth:JwksRefreshInterval</c>, re-fetched on an unknown kid at most once per <c>Auth:JwksMinRefreshInterval</c>),
/// and keys a service adds in process (<see cref="AddKeys"/>, used by the users service for its own keys).
/// </summary>
public sealed class JwksKeyCache
{
    internal const string HttpClientName = "FlashSale.Jwks";
    readonly IHttpClientFactory _http;
    readonly ILogger<JwksKeyCache> _logger;
    readonly Uri? _url;
    readonly TimeSpan _refreshInterval, _minRefreshInterval;
    readonly SemaphoreSlim _fetchLock = new(1, 1);
    volatile IReadOnlyList<SecurityKey> _staticKeys = [];
    volatile IReadOnlyList<SecurityKey> _fetchedKeys = [];
    DateTimeOffset _lastFetchAttempt = DateTimeOffset.MinValue, _lastFetchSuccess = DateTimeOffset.MinValue;

    public JwksKeyCache(IConfiguration configuration, IHttpClientFactory http, ILogger<JwksKeyCache> logger)
    {
        _http = http;
        _logger = logger;
        var auth = configuration.GetSection("Auth");
        if (auth["Jwks"] is { Length: > 0 } jwks) _staticKeys = ParseJwks(jwks);
        if (auth["JwksUrl"] is { Length: > 0 } url) _url = new Uri(url, UriKind.Absolute);
        _refreshInterval = auth.GetValue("JwksRefreshInterval", TimeSpan.FromMinutes(10));
        _minRefreshInterval = auth.GetValue("JwksMinRefreshInterval", TimeSpan.FromSeconds(30));
    }

    public bool IsConfigured => _url is not null || _staticKeys.Count > 0;

    /// <summary>Keys come (also) from <c>Auth:JwksUrl</c>, so an unknown kid may need a fetch.</summary>
    public bool FetchesKeys => _url is not null;

    /// <summary>Number of JWKS fetches attempted (observable in tests and logs).</summary>
    public int FetchCount { get; private set; }

    /// <summary>Trusts more keys in process (RS256 public keys), e.g. a service's own signing key.</summary>
    public void AddKeys(IEnumerable<SecurityKey> keys)
    {
        lock (_fetchLock) _staticKeys = [.. _staticKeys, .. keys.Where(k => k.KeyId is null || _staticKeys.All(s => s.KeyId != k.KeyId))];
    }

    /// <summary>Parses a JWKS document into its RSA signing keys.</summary>
    public static IReadOnlyList<SecurityKey> ParseJwks(string json) =>
        [.. new JsonWebKeySet(json).GetSigningKeys()];

    internal IEnumerable<SecurityKey> Resolve(string? kid)
    {
        IEnumerable<SecurityKey> all = [.. _staticKeys, .. _fetchedKeys];
        if (kid is null) return all;
        var matching = all.Where(k => k.KeyId == kid).ToList();
        return matching.Count > 0 ? matching : all;
    }

    internal async Task EnsureKeyAsync(string? kid, CancellationToken cancellationToken)
    {
        if (_url is null) return;
        var now = DateTimeOffset.UtcNow;
        var stale = now - _lastFetchSuccess > _refreshInterval;
        var unknown = kid is not null && !_staticKeys.Concat(_fetchedKeys).Any(k => k.KeyId == kid);
        if (!stale && !unknown) return;
        await _fetchLock.WaitAsync(cancellationToken);
        try
        {
            now = DateTimeOffset.UtcNow;
            stale = now - _lastFetchSuccess > _refreshInterval;
            unknown = kid is not null && !_staticKeys.Concat(_fetchedKeys).Any(k => k.KeyId == kid);
            if (!stale && !unknown) return;
            // Rate limit: unknown kids must not let clients hammer the issuer. Until a first fetch succeeded (the issuer
            // started after this service), retry sooner.
            var minInterval = _lastFetchSuccess == DateTimeOffset.MinValue && _minRefreshInterval > TimeSpan.FromSeconds(5)
                ? TimeSpan.FromSeconds(5) : _minRefreshInterval;
            if (now - _lastFetchAttempt < minInterval) return;
            _lastFetchAttempt = now;
            FetchCount++;
            try
            {
                using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                cts.CancelAfter(TimeSpan.FromSeconds(5));
                var json = await _http.CreateClient(HttpClientName).GetStringAsync(_url, cts.Token);
                _fetchedKeys = ParseJwks(json);
                _lastFetchSuccess = DateTimeOffset.UtcNow;
                _logger.LogInformation("Fetched {KeyCount} signing keys from {JwksUrl}", _fetchedKeys.Count, _url);
            }
            catch (Exception e) when (e is HttpRequestException or OperationCanceledException or ArgumentException or System.Text.Json.JsonException)
            {
                _logger.LogWarning(e, "Fetching signing keys from {JwksUrl} failed; keeping {KeyCount} known keys", _url, _fetchedKeys.Count);
            }
        }
        finally { _fetchLock.Release(); }
    }
}
