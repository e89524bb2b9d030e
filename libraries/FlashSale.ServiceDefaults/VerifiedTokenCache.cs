using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using System.Security.Claims;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace FlashSale.ServiceDefaults;

/// <summary>
/// A <see cref="JsonWebTokenHandler"/> that remembers tokens it has fully validated, keyed by their exact text, so a buyer
/// who sends the same token again (a flash sale is a burst of retries) costs a dictionary lookup instead of an RS256
/// verification (the biggest single cost of the order path in the profile: OpenSSL 3 sets up the key for every verify).
/// <list type="bullet">
/// <item>Only valid results are kept; a token differing in any character (tampered payload or signature) is a different key
/// and goes through full validation.</item>
/// <item>An entry lives until the token's <c>exp</c> (no clock skew: after that full validation decides, with its skew) and at
/// most <c>Auth:TokenCacheTtl</c> (default 5 minutes, below the JWKS refresh interval, so removing a key from the JWKS takes
/// effect as fast as it would without the cache).</item>
/// <item>At most <c>Auth:TokenCacheSize</c> entries (default 20,000; 0 turns the cache off); when full, expired entries are swept
/// (at most once a second) and new tokens are validated without being remembered.</item>
/// <item>Every hit gets its own copy of the claims identity, so a request that adds claims cannot leak them into another.</item>
/// </list>
/// </summary>
public sealed class CachingJsonWebTokenHandler : JsonWebTokenHandler
{
    public static readonly TimeSpan DefaultTtl = TimeSpan.FromMinutes(5);
    public const int DefaultCapacity = 20_000;

    /// <summary>A validated token: its result (whose identity the cache never reads: the caller got it), its claims copied
    /// once into a read-only identity, and how long it may be answered from here.</summary>
    sealed record Entry(TokenValidationResult Result, ReadOnlyClaimsIdentity Identity, DateTimeOffset Until);

    readonly ConcurrentDictionary<string, Entry> _entries = new(TokenComparer.Instance);
    readonly int _capacity;
    readonly TimeSpan _ttl;
    readonly TimeProvider _time;
    int _count;
    long _hits, _misses, _nextSweep;

    public CachingJsonWebTokenHandler(int capacity, TimeSpan ttl, TimeProvider? time = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(capacity);
        if (ttl <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(ttl), ttl, "Auth:TokenCacheTtl must be positive");
        (_capacity, _ttl, _time) = (capacity, ttl, time ?? TimeProvider.System);
    }

    /// <summary>Validations answered from the cache.</summary>
    public long Hits => Interlocked.Read(ref _hits);

    /// <summary>Validations that ran in full (signature, lifetime, issuer, audience).</summary>
    public long Misses => Interlocked.Read(ref _misses);

    public int Count => Volatile.Read(ref _count);

    /// <summary>True when this exact token was validated and its entry has not lapsed (its signing key needs no lookup).</summary>
    public bool IsRemembered(string token) => Live(token) is not null;

    /// <summary>This exact token's entry when it has not lapsed.</summary>
    Entry? Live(string token) => _capacity > 0 && _entries.TryGetValue(token, out var entry) && _time.GetUtcNow() < entry.Until ? entry : null;

    /// <summary>
    /// The claims of this exact token when it was validated and its entry has not lapsed (counted as a hit); false otherwise,
    /// and then <see cref="ValidateTokenAsync(string, TokenValidationParameters)"/> decides. Synchronous, and without a copy:
    /// the identity is the entry's own, shared by every request that brings this token, and read-only
    /// (<see cref="ReadOnlyClaimsIdentity"/>), so one request cannot change what the next one sees, and no request pays for a
    /// copy of the claims.
    /// </summary>
    public bool TryGetRemembered(string token, [NotNullWhen(true)] out ClaimsIdentity? identity)
    {
        if (Live(token) is { } entry)
        {
            Interlocked.Increment(ref _hits);
            identity = entry.Identity;
            return true;
        }
        identity = null;
        return false;
    }

    public override async Task<TokenValidationResult> ValidateTokenAsync(string token, TokenValidationParameters validationParameters)
    {
        var now = _time.GetUtcNow();
        if (_capacity > 0 && token is not null && _entries.TryGetValue(token, out var entry))
        {
            if (now < entry.Until)
            {
                Interlocked.Increment(ref _hits);
                return Copy(entry);
            }
            if (_entries.TryRemove(new KeyValuePair<string, Entry>(token, entry))) Interlocked.Decrement(ref _count);
        }
        Interlocked.Increment(ref _misses);
        var result = await base.ValidateTokenAsync(token!, validationParameters);
        if (_capacity > 0 && result.IsValid && result.SecurityToken is JsonWebToken jwt && result.ClaimsIdentity is not null)
        {
            var expires = new DateTimeOffset(DateTime.SpecifyKind(jwt.ValidTo, DateTimeKind.Utc));
            var until = expires < now + _ttl ? expires : now + _ttl;
            if (until > now) Remember(token!, new Entry(result, new ReadOnlyClaimsIdentity(result.ClaimsIdentity), until), now);
        }
        return result;
    }

    void Remember(string token, Entry entry, DateTimeOffset now)
    {
        if (Volatile.Read(ref _count) >= _capacity && !Sweep(now)) return;
        if (Interlocked.Increment(ref _count) > _capacity || !_entries.TryAdd(token, entry)) Interlocked.Decrement(ref _count);
    }

    /// <summary>Drops expired entries, at most once a second; true when that made room.</summary>
    bool Sweep(DateTimeOffset now)
    {
        var next = Interlocked.Read(ref _nextSweep);
        if (now.UtcTicks < next || Interlocked.CompareExchange(ref _nextSweep, now.UtcTicks + TimeSpan.TicksPerSecond, next) != next) return false;
        foreach (var (token, entry) in _entries)
            if (entry.Until <= now && _entries.TryRemove(new KeyValuePair<string, Entry>(token, entry))) Interlocked.Decrement(ref _count);
        return Volatile.Read(ref _count) < _capacity;
    }

    /// <summary>A result of its own for a cache hit: a changeable copy of the claims (Clone of the read-only identity).</summary>
    static TokenValidationResult Copy(Entry e) => new()
    {
        IsValid = true,
        ClaimsIdentity = e.Identity.Clone(),
        SecurityToken = e.Result.SecurityToken,
        Issuer = e.Result.Issuer,
        TokenType = e.Result.TokenType,
    };
}

/// <summary>
/// A cached token's identity, shared by the requests that bring that token: adding or removing claims throws
/// (<see cref="ClaimsIdentity.Clone"/> gives a copy that can be changed). Each request gets a <see cref="ClaimsPrincipal"/>
/// of its own around it, so identities added to one request's principal do not reach another. (The few settable
/// properties <see cref="ClaimsIdentity"/> does not let a subclass guard, <c>Actor</c>, <c>Label</c> and
/// <c>BootstrapContext</c>, are not used by these services.)
/// </summary>
public sealed class ReadOnlyClaimsIdentity(ClaimsIdentity source) : ClaimsIdentity(source)
{
    public override void AddClaim(Claim claim) => throw ReadOnly();
    public override void AddClaims(IEnumerable<Claim?> claims) => throw ReadOnly();
    public override void RemoveClaim(Claim? claim) => throw ReadOnly();
    public override bool TryRemoveClaim(Claim? claim) => throw ReadOnly();

    static InvalidOperationException ReadOnly() =>
        new("This identity belongs to a cached token and is shared by its requests; change a copy (Clone()) instead.");
}

/// <summary>
/// Token text equality (ordinal, every character), hashed by the last 32 characters only: the end of an RS256 signature,
/// random and 600 characters after the start of the token. Hashing all ~615 characters was a third of a lookup. Only
/// validated tokens are stored, so a client cannot fill one bucket with keys of its choosing.
/// </summary>
sealed class TokenComparer : IEqualityComparer<string>
{
    public static readonly TokenComparer Instance = new();
    public bool Equals(string? x, string? y) => string.Equals(x, y, StringComparison.Ordinal);
    public int GetHashCode(string token) => string.GetHashCode(token.AsSpan(Math.Max(0, token.Length - 32)), StringComparison.Ordinal);
}
