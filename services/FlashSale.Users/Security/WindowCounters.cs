using System.Collections.Concurrent;
using FlashSale.Sales;
using StackExchange.Redis;

namespace FlashSale.Users.Security;

/// <summary>
/// Counters in fixed windows and marks with a lifetime, the store of the login and registration limits.
/// <para>
/// With <c>ConnectionStrings:Redis</c> set (as the operator and <c>make run</c> set it) they live in Redis, so that every
/// replica of the users service spends the same budget: with counts in process memory, N replicas let an attacker try N
/// times the limit, and an autoscaler that adds replicas under a burst would raise it further. When Redis cannot be reached
/// the replica counts in its own memory (the limit then holds per replica, as it always does without Redis) instead of
/// refusing every login: buyers log in right before a sale opens, and a Redis hiccup must not lock them out. Each fallback
/// is reported to the caller (a metric) and logged at most once a minute.
/// </para>
/// </summary>
public sealed class WindowCounters : IDisposable
{
    /// <summary>Adds one to KEYS[1]; {count, milliseconds left}. The window starts at the first count (PEXPIRE ARGV[1]); a key without an expiry gets one.</summary>
    static readonly RedisScript IncrementScript = new("""
        local n = redis.call('INCR', KEYS[1])
        local ttl = redis.call('PTTL', KEYS[1])
        if ttl < 0 then
          redis.call('PEXPIRE', KEYS[1], ARGV[1])
          ttl = tonumber(ARGV[1])
        end
        return {n, ttl}
        """);
    static readonly RedisScript ReadScript = new("""
        return {tonumber(redis.call('GET', KEYS[1]) or '0'), redis.call('PTTL', KEYS[1])}
        """);
    static readonly TimeSpan WarnEvery = TimeSpan.FromMinutes(1);
    static readonly TimeSpan RedisTimeout = TimeSpan.FromSeconds(1);

    readonly Task<ConnectionMultiplexer>? _redis;
    readonly long _connectGraceEnds;
    readonly LocalStore _local = new();
    readonly ILogger<WindowCounters> _logger;
    long _lastWarning = long.MinValue;

    public WindowCounters(IConfiguration configuration, ILogger<WindowCounters> logger)
    {
        // Connecting in the background: until the first call is through, and while Redis is down, counts are kept locally.
        if (!string.IsNullOrWhiteSpace(configuration["ConnectionStrings:Redis"]))
        {
            _redis = RedisRegistration.ConnectAsync(configuration, clientName: "users-limits");
            _connectGraceEnds = Environment.TickCount64 + (long)RedisTimeout.TotalMilliseconds;
        }
        _logger = logger;
    }

    /// <summary>The operations of one store: Redis, or this replica's memory.</summary>
    public interface IStore
    {
        /// <summary>Adds one to <paramref name="key"/>; the count in its window and the time the window has left.</summary>
        Task<(long Count, TimeSpan Left)> IncrementAsync(string key, TimeSpan window);
        /// <summary>The count in the key's window (0 when none) and the time it has left.</summary>
        Task<(long Count, TimeSpan Left)> ReadAsync(string key);
        Task MarkAsync(string key, TimeSpan lifetime);
        Task DeleteAsync(string key);
    }

    /// <summary>
    /// Runs <paramref name="work"/> on Redis when connected, else (or when Redis fails under it) on this replica's memory;
    /// <paramref name="onFallback"/> runs once when memory was used although Redis is configured.
    /// </summary>
    public async Task<T> RunAsync<T>(Func<IStore, Task<T>> work, Action? onFallback = null)
    {
        if (_redis is null) return await work(_local);
        // A replica that has just started gives its first connection attempt up to a second in all (a local Redis answers in
        // milliseconds) rather than counting its first calls apart. Disconnected, the client would hold a command until it
        // reconnects (or times out after seconds): count locally at once instead; a connected Redis that stalls gets a second.
        if (!_redis.IsCompleted && _connectGraceEnds - Environment.TickCount64 is > 0 and var left)
            await Task.WhenAny(_redis, Task.Delay(TimeSpan.FromMilliseconds(left)));
        var redis = _redis.IsCompletedSuccessfully ? _redis.Result : null;
        Exception? failure = _redis.Exception?.InnerException;
        if (redis is { IsConnected: true })
        {
            try { return await work(new RedisStore(redis.GetDatabase())); }
            catch (Exception e) when (e is RedisException or TimeoutException) { failure = e; }
        }
        onFallback?.Invoke();
        var now = Environment.TickCount64;
        var last = Interlocked.Read(ref _lastWarning);
        if (now - last >= WarnEvery.TotalMilliseconds && Interlocked.CompareExchange(ref _lastWarning, now, last) == last)
            _logger.LogWarning(failure, "Login and registration limits are counted in this replica's memory while Redis cannot be reached (each replica allows the limit)");
        return await work(_local);
    }

    sealed class RedisStore(IDatabase db) : IStore
    {
        public async Task<(long, TimeSpan)> IncrementAsync(string key, TimeSpan window) =>
            Pair(await IncrementScript.EvaluateAsync(db, [key], [(long)window.TotalMilliseconds]).WaitAsync(RedisTimeout));

        public async Task<(long, TimeSpan)> ReadAsync(string key) => Pair(await ReadScript.EvaluateAsync(db, [key], []).WaitAsync(RedisTimeout));

        public Task MarkAsync(string key, TimeSpan lifetime) => db.StringSetAsync(key, 1, lifetime).WaitAsync(RedisTimeout);

        public Task DeleteAsync(string key) => db.KeyDeleteAsync(key).WaitAsync(RedisTimeout);

        static (long, TimeSpan) Pair(RedisResult result)
        {
            var values = (long[])result!;
            return (values[0], TimeSpan.FromMilliseconds(Math.Max(values[1], 1)));
        }
    }

    /// <summary>Counts in process memory; expired entries are swept every half minute as the store is used.</summary>
    sealed class LocalStore : IStore
    {
        sealed class Entry(long expiresAt) { public long Count; public long ExpiresAt = expiresAt; }

        readonly ConcurrentDictionary<string, Entry> _entries = new();
        long _nextSweep;

        public Task<(long, TimeSpan)> IncrementAsync(string key, TimeSpan window)
        {
            var now = Now();
            var entry = _entries.GetOrAdd(key, _ => new Entry(now + (long)window.TotalMilliseconds));
            lock (entry)
            {
                if (entry.ExpiresAt <= now) (entry.Count, entry.ExpiresAt) = (0, now + (long)window.TotalMilliseconds);
                return Task.FromResult((++entry.Count, Left(entry, now)));
            }
        }

        public Task<(long, TimeSpan)> ReadAsync(string key)
        {
            var now = Now();
            if (!_entries.TryGetValue(key, out var entry)) return Task.FromResult((0L, TimeSpan.Zero));
            lock (entry) return Task.FromResult(entry.ExpiresAt <= now ? (0L, TimeSpan.Zero) : (entry.Count, Left(entry, now)));
        }

        public Task MarkAsync(string key, TimeSpan lifetime)
        {
            var now = Now();
            var entry = _entries.GetOrAdd(key, _ => new Entry(0));
            lock (entry) (entry.Count, entry.ExpiresAt) = (1, now + (long)lifetime.TotalMilliseconds);
            return Task.CompletedTask;
        }

        public Task DeleteAsync(string key)
        {
            _entries.TryRemove(key, out _);
            return Task.CompletedTask;
        }

        static TimeSpan Left(Entry entry, long now) => TimeSpan.FromMilliseconds(Math.Max(entry.ExpiresAt - now, 1));

        long Now()
        {
            var now = Environment.TickCount64;
            var next = Interlocked.Read(ref _nextSweep);
            if (now >= next && Interlocked.CompareExchange(ref _nextSweep, now + 30_000, next) == next)
                foreach (var (key, entry) in _entries)
                    if (entry.ExpiresAt <= now) _entries.TryRemove(new KeyValuePair<string, Entry>(key, entry));
            return now;
        }
    }

    public void Dispose() => _redis?.ContinueWith(t => t.Result.Dispose(), TaskContinuationOptions.OnlyOnRanToCompletion);
}
