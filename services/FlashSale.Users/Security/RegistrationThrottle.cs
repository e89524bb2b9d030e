using Microsoft.Extensions.Options;

namespace FlashSale.Users.Security;

/// <summary>
/// Registration limits in fixed windows (<c>Users:RegistrationRateLimit</c>), counted in <see cref="WindowCounters"/> like the
/// login limits: per client address (<c>PerAddress</c>) and over all addresses (<c>Global</c>). Each registration costs a full
/// password hash and funds a wallet, so a flood of them must neither take the cores from logins nor mint money.
/// </summary>
public sealed class RegistrationThrottle(IOptions<UsersOptions> options, WindowCounters counters, Extensions.UsersMetrics metrics)
{
    readonly RegistrationRateLimitOptions _limits = options.Value.RegistrationRateLimit;

    /// <summary>Takes one registration from the address's budget, then (if that allowed it) the global one; null when allowed, else how long to wait.</summary>
    public Task<TimeSpan?> TryRegisterAsync(string address) => counters.RunAsync(async store =>
    {
        var (count, left) = await store.IncrementAsync(_limits.KeyPrefix + "addr:" + address, _limits.Window);
        if (count > _limits.PerAddress) return left;
        (count, left) = await store.IncrementAsync(_limits.KeyPrefix + "all", _limits.Window);
        return count > _limits.Global ? left : (TimeSpan?)null;
    }, metrics.RegistrationThrottleFallback);
}
