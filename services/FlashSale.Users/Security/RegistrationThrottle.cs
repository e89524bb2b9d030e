namespace FlashSale.Users.Security;

/// <summary>
/// Registration limits in fixed windows (<c>Users:RegistrationRateLimit</c>), counted in <see cref="WindowCounters"/> like the
/// login limits: per client address (<c>PerAddress</c>) and over all addresses (<c>Global</c>). Each registration costs a full
/// password hash and funds a wallet, so a flood of them must neither take the cores from logins nor mint money.
/// </summary>
public sealed class RegistrationThrottle
{
    readonly WindowCounters _counters;
    readonly Extensions.UsersMetrics _metrics;
    readonly int _perAddress, _global;
    readonly TimeSpan _window;
    readonly string _keyPrefix;

    public RegistrationThrottle(IConfiguration configuration, WindowCounters counters, Extensions.UsersMetrics metrics)
    {
        var section = configuration.GetSection("Users:RegistrationRateLimit");
        _window = section.GetValue("Window", TimeSpan.FromMinutes(1));
        _perAddress = section.GetValue("PerAddress", 20);
        _global = section.GetValue("Global", 600);
        if (_window <= TimeSpan.Zero || _perAddress < 1 || _global < 1)
            throw new InvalidOperationException("Users:RegistrationRateLimit needs a positive Window and PerAddress and Global of at least 1");
        _keyPrefix = section["KeyPrefix"] ?? "fs:users:registration:";
        _counters = counters;
        _metrics = metrics;
    }

    /// <summary>Takes one registration from the address's budget, then (if that allowed it) the global one; null when allowed, else how long to wait.</summary>
    public Task<TimeSpan?> TryRegisterAsync(string address) => _counters.RunAsync(async store =>
    {
        var (count, left) = await store.IncrementAsync(_keyPrefix + "addr:" + address, _window);
        if (count > _perAddress) return left;
        (count, left) = await store.IncrementAsync(_keyPrefix + "all", _window);
        return count > _global ? left : (TimeSpan?)null;
    }, _metrics.RegistrationThrottleFallback);
}
