using System.Threading.RateLimiting;

namespace FlashSale.Users.Security;

/// <summary>
/// Login attempts per username and per client address in fixed windows (<c>Users:LoginRateLimit</c>), in process memory:
/// with N replicas an attacker gets at most N times the limit.
/// </summary>
public sealed class LoginThrottle : IDisposable
{
    readonly PartitionedRateLimiter<string> _byUsername, _byAddress;

    public LoginThrottle(IConfiguration configuration)
    {
        var section = configuration.GetSection("Users:LoginRateLimit");
        var window = section.GetValue("Window", TimeSpan.FromMinutes(1));
        _byUsername = Create(section.GetValue("PerUsername", 10), window);
        _byAddress = Create(section.GetValue("PerAddress", 300), window);
    }

    static PartitionedRateLimiter<string> Create(int permits, TimeSpan window) =>
        PartitionedRateLimiter.Create<string, string>(key => RateLimitPartition.GetFixedWindowLimiter(key, _ => new FixedWindowRateLimiterOptions
        {
            PermitLimit = permits,
            Window = window,
            QueueLimit = 0,
            AutoReplenishment = true,
        }));

    /// <summary>Takes one attempt from both budgets; null when allowed, else how long to wait.</summary>
    public TimeSpan? TryAttempt(string username, string address)
    {
        using var byAddress = _byAddress.AttemptAcquire(address);
        if (!byAddress.IsAcquired) return RetryAfter(byAddress);
        using var byUsername = _byUsername.AttemptAcquire(username.ToLowerInvariant());
        return byUsername.IsAcquired ? null : RetryAfter(byUsername);
    }

    static TimeSpan RetryAfter(RateLimitLease lease) =>
        lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter) ? retryAfter : TimeSpan.FromSeconds(60);

    public void Dispose()
    {
        _byUsername.Dispose();
        _byAddress.Dispose();
    }
}
