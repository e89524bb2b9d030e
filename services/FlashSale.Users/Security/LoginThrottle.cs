using Microsoft.Extensions.Options;

namespace FlashSale.Users.Security;

/// <summary>
/// Login limits in fixed windows (<c>Users:LoginRateLimit</c>), counted in <see cref="WindowCounters"/> (Redis, shared by every
/// replica, or this replica's memory):
/// <list type="bullet">
/// <item>every attempt per client address (<c>PerAddress</c>);</item>
/// <item>failed attempts per username and address together (<c>PerUsernameAndAddress</c>): guessing from one address is slow,
/// and a stranger's failures never count against the buyer's own address;</item>
/// <item>failed attempts per username from addresses the user has not signed in from (<c>PerUsername</c>), refusing only such
/// addresses: guessing spread over many addresses is slow too, while the buyer's known addresses (a successful login or the
/// registration within <c>KnownAddressTtl</c>) stay open.</item>
/// </list>
/// Usernames count case-insensitively and trimmed, as the login looks them up.
/// </summary>
public sealed class LoginThrottle(IOptions<UsersOptions> options, WindowCounters counters, Extensions.UsersMetrics metrics)
{
    readonly LoginRateLimitOptions _limits = options.Value.LoginRateLimit;

    public static string Normalize(string username) => username.Trim().ToLowerInvariant();

    /// <summary>Before the password is checked: counts the attempt against the address; null when allowed, else how long to wait.</summary>
    public Task<TimeSpan?> TryAttemptAsync(string username, string address)
    {
        var user = Normalize(username);
        return counters.RunAsync(async store =>
        {
            var (attempts, left) = await store.IncrementAsync(_limits.KeyPrefix + "addr:" + address, _limits.Window);
            if (attempts > _limits.PerAddress) return left;
            (var failures, left) = await store.ReadAsync(Key("fails", user, address));
            if (failures >= _limits.PerUsernameAndAddress) return left;
            // Per username, only failures from addresses the user never signed in from count, and only such addresses are refused:
            // guessing over many addresses stays slow, yet strangers cannot lock the buyer out of their own address.
            if (await IsKnownAsync(store, user, address)) return null;
            (failures, left) = await store.ReadAsync(_limits.KeyPrefix + "user-fails:" + user);
            return failures >= _limits.PerUsername ? left : (TimeSpan?)null;
        }, metrics.LoginThrottleFallback);
    }

    /// <summary>A wrong password (or unknown username) from the address.</summary>
    public Task FailedAsync(string username, string address)
    {
        var user = Normalize(username);
        return counters.RunAsync(async store =>
        {
            await store.IncrementAsync(Key("fails", user, address), _limits.Window);
            if (!await IsKnownAsync(store, user, address)) await store.IncrementAsync(_limits.KeyPrefix + "user-fails:" + user, _limits.Window);
            return true;
        });
    }

    /// <summary>The user proved the password from the address (a login or the registration): it is known from now on.</summary>
    public Task SucceededAsync(string username, string address)
    {
        var user = Normalize(username);
        return counters.RunAsync(async store =>
        {
            await store.MarkAsync(Key("known", user, address), _limits.KnownAddressTtl);
            await store.DeleteAsync(Key("fails", user, address));
            return true;
        });
    }

    async Task<bool> IsKnownAsync(WindowCounters.IStore store, string user, string address) =>
        (await store.ReadAsync(Key("known", user, address))).Count > 0;

    // The address first: it never holds '|', so no username typed at login can name another address's key.
    string Key(string kind, string user, string address) => $"{_limits.KeyPrefix}{kind}:{address}|{user}";
}
