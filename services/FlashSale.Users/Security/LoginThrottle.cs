using System.Threading.RateLimiting;
using FlashSale.Sales;
using StackExchange.Redis;

namespace FlashSale.Users.Security;

/// <summary>
/// Login attempts per client address and per username in fixed windows (<c>Users:LoginRateLimit</c>).
/// <para>
/// With <c>ConnectionStrings:Redis</c> set (as the operator and <c>make run</c> set it) the counts live in Redis, one key per
/// address and per username and window, so that every replica of the users service spends the same budget: with counts
/// in process memory, N replicas let an attacker try N times the limit, and an autoscaler that adds replicas under a
/// password-guessing burst would raise it further. When Redis cannot be reached the replica counts in its own memory
/// (the limit then holds per replica, as it always did without Redis) instead of refusing every login: buyers log in
/// right before a sale opens, and a Redis hiccup must not lock them out. Each fallback is counted in
/// <c>users.login_throttle_fallbacks</c> and logged at most once a minute.
/// </para>
/// </summary>
public sealed class LoginThrottle : IDisposable
{
    /// <summary>
    /// Counts one attempt against KEYS[1]: -1 when it is within ARGV[1] attempts in the window, else the milliseconds until the
    /// window ends. The window starts at a key's first attempt (PEXPIRE ARGV[2]); a key found without an expiry gets one.
    /// </summary>
    static readonly RedisScript TakeScript = new("""
        local n = redis.call('INCR', KEYS[1])
        local ttl = redis.call('PTTL', KEYS[1])
        if ttl < 0 then
          redis.call('PEXPIRE', KEYS[1], ARGV[2])
          ttl = tonumber(ARGV[2])
        end
        if n > tonumber(ARGV[1]) then return ttl end
        return -1
        """);
    static readonly TimeSpan WarnEvery = TimeSpan.FromMinutes(1);
    static readonly TimeSpan RedisTimeout = TimeSpan.FromSeconds(1);

    readonly PartitionedRateLimiter<string> _byUsername, _byAddress;
    readonly int _perUsername, _perAddress;
    readonly TimeSpan _window;
    readonly string _keyPrefix;
    readonly Task<ConnectionMultiplexer>? _redis;
    readonly Extensions.UsersMetrics _metrics;
    readonly ILogger<LoginThrottle> _logger;
    readonly long _connectGraceEnds;
    long _lastWarning = long.MinValue;

    public LoginThrottle(IConfiguration configuration, Extensions.UsersMetrics metrics, ILogger<LoginThrottle> logger)
    {
        var section = configuration.GetSection("Users:LoginRateLimit");
        _window = section.GetValue("Window", TimeSpan.FromMinutes(1));
        _perUsername = section.GetValue("PerUsername", 10);
        _perAddress = section.GetValue("PerAddress", 300);
        if (_window <= TimeSpan.Zero || _perUsername < 1 || _perAddress < 1)
            throw new InvalidOperationException("Users:LoginRateLimit needs a positive Window and PerUsername/PerAddress of at least 1");
        _keyPrefix = section["KeyPrefix"] ?? "fs:users:login:";
        _byUsername = Create(_perUsername, _window);
        _byAddress = Create(_perAddress, _window);
        // Connecting in the background: until the first attempt is through, and while Redis is down, logins are counted locally.
        if (!string.IsNullOrWhiteSpace(configuration["ConnectionStrings:Redis"]))
        {
            _redis = RedisRegistration.ConnectAsync(configuration, clientName: "users-login-throttle");
            _connectGraceEnds = Environment.TickCount64 + (long)RedisTimeout.TotalMilliseconds;
        }
        _metrics = metrics;
        _logger = logger;
    }

    static PartitionedRateLimiter<string> Create(int permits, TimeSpan window) =>
        PartitionedRateLimiter.Create<string, string>(key => RateLimitPartition.GetFixedWindowLimiter(key, _ => new FixedWindowRateLimiterOptions
        {
            PermitLimit = permits,
            Window = window,
            QueueLimit = 0,
            AutoReplenishment = true,
        }));

    /// <summary>Takes one attempt from the address's budget, then (if that allowed it) the username's; null when allowed, else how long to wait.</summary>
    public async Task<TimeSpan?> TryAttemptAsync(string username, string address)
    {
        var user = username.ToLowerInvariant();
        if (_redis is not null)
        {
            // A replica that has just started gives its first connection attempt up to a second in all (a local Redis answers
            // in milliseconds) rather than counting its first logins apart. Disconnected, the client would hold a command until
            // it reconnects (or times out after seconds): count locally at once instead; a connected Redis that stalls gets a
            // second at most.
            if (!_redis.IsCompleted && _connectGraceEnds - Environment.TickCount64 is > 0 and var left)
                await Task.WhenAny(_redis, Task.Delay(TimeSpan.FromMilliseconds(left)));
            var redis = _redis.IsCompletedSuccessfully ? _redis.Result : null;
            Exception? failure = _redis.Exception?.InnerException;
            if (redis is { IsConnected: true })
            {
                try
                {
                    var db = redis.GetDatabase();
                    return await TakeAsync(db, "addr:" + address, _perAddress) ?? await TakeAsync(db, "user:" + user, _perUsername);
                }
                catch (Exception e) when (e is RedisException or TimeoutException)
                {
                    failure = e;
                }
            }
            _metrics.LoginThrottleFallback();
            var now = Environment.TickCount64;
            var last = Interlocked.Read(ref _lastWarning);
            if (now - last >= WarnEvery.TotalMilliseconds && Interlocked.CompareExchange(ref _lastWarning, now, last) == last)
                _logger.LogWarning(failure, "Login limits are counted in this replica's memory while Redis cannot be reached (each replica allows the limit)");
        }
        using var byAddress = _byAddress.AttemptAcquire(address);
        if (!byAddress.IsAcquired) return RetryAfter(byAddress);
        using var byUsername = _byUsername.AttemptAcquire(user);
        return byUsername.IsAcquired ? null : RetryAfter(byUsername);
    }

    async Task<TimeSpan?> TakeAsync(IDatabase db, string key, int limit)
    {
        var wait = (long)await TakeScript.EvaluateAsync(db, [_keyPrefix + key], [limit, (long)_window.TotalMilliseconds]).WaitAsync(RedisTimeout);
        return wait < 0 ? null : TimeSpan.FromMilliseconds(Math.Max(wait, 1));
    }

    static TimeSpan RetryAfter(RateLimitLease lease) =>
        lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter) ? retryAfter : TimeSpan.FromSeconds(60);

    public void Dispose()
    {
        _byUsername.Dispose();
        _byAddress.Dispose();
        _redis?.ContinueWith(t => t.Result.Dispose(), TaskContinuationOptions.OnlyOnRanToCompletion);
    }
}
