using System.Threading.Channels;

namespace FlashSale.Operator.Runtime;

/// <summary>
/// client-go's rate-limited work queue, keyed "namespace/name": a key waiting is queued once however often it is added;
/// a key being processed is never handed to a second worker (an add meanwhile marks it dirty and it comes back after
/// <see cref="Done"/>); <see cref="AddRateLimited"/> backs a key off exponentially per item (5 ms doubling, capped at
/// 1000 s) until <see cref="Forget"/>; <see cref="AddAfter"/> delays an add (a requeue at a schedule boundary).
/// </summary>
public sealed class WorkQueue : IDisposable
{
    readonly object _gate = new();
    readonly Queue<string> _queue = new();
    readonly HashSet<string> _dirty = [];
    readonly HashSet<string> _processing = [];
    readonly Dictionary<string, int> _failures = [];
    readonly Dictionary<string, (DateTimeOffset At, ITimer Timer)> _delayed = [];
    readonly Channel<bool> _signals = Channel.CreateUnbounded<bool>();
    readonly TimeProvider _time;
    readonly OperatorMetrics? _metrics;
    bool _shutDown;

    public WorkQueue(string name, TimeProvider? time = null, OperatorMetrics? metrics = null)
    {
        Name = name;
        _time = time ?? TimeProvider.System;
        _metrics = metrics;
    }

    public string Name { get; }

    public TimeSpan BaseDelay { get; init; } = TimeSpan.FromMilliseconds(5);

    public TimeSpan MaxDelay { get; init; } = TimeSpan.FromSeconds(1000);

    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _queue.Count;
            }
        }
    }

    public void Add(string key)
    {
        lock (_gate)
        {
            if (_shutDown || !_dirty.Add(key))
            {
                return;
            }

            _metrics?.QueueAdded(Name);
            if (_processing.Contains(key))
            {
                return;
            }

            _queue.Enqueue(key);
            _metrics?.QueueDepth(Name, _queue.Count);
        }

        _signals.Writer.TryWrite(true);
    }

    /// <summary>Adds the key after <paramref name="delay"/>; an earlier pending delayed add of the same key wins.</summary>
    public void AddAfter(string key, TimeSpan delay)
    {
        if (delay <= TimeSpan.Zero)
        {
            Add(key);
            return;
        }

        lock (_gate)
        {
            if (_shutDown)
            {
                return;
            }

            var at = _time.GetUtcNow() + delay;
            if (_delayed.TryGetValue(key, out var pending))
            {
                if (pending.At <= at)
                {
                    return;
                }

                pending.Timer.Dispose();
            }

            var timer = _time.CreateTimer(_ => Fire(key), null, delay, Timeout.InfiniteTimeSpan);
            _delayed[key] = (at, timer);
        }
    }

    /// <summary>Adds the key after its backoff: 5 ms x 2^(failures so far), at most <see cref="MaxDelay"/>.</summary>
    public TimeSpan AddRateLimited(string key)
    {
        TimeSpan delay;
        lock (_gate)
        {
            var n = _failures.GetValueOrDefault(key);
            _failures[key] = n + 1;
            var ms = BaseDelay.TotalMilliseconds * Math.Pow(2, Math.Min(n, 40));
            delay = ms >= MaxDelay.TotalMilliseconds ? MaxDelay : TimeSpan.FromMilliseconds(ms);
        }

        _metrics?.QueueRetried(Name);
        AddAfter(key, delay);
        return delay;
    }

    /// <summary>Clears the key's backoff (after a successful reconcile).</summary>
    public void Forget(string key)
    {
        lock (_gate)
        {
            _failures.Remove(key);
        }
    }

    public int Failures(string key)
    {
        lock (_gate)
        {
            return _failures.GetValueOrDefault(key);
        }
    }

    /// <summary>The next key to process; null once shut down.</summary>
    public async Task<string?> GetAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            lock (_gate)
            {
                if (_shutDown)
                {
                    return null;
                }

                if (_queue.TryDequeue(out var key))
                {
                    _dirty.Remove(key);
                    _processing.Add(key);
                    _metrics?.QueueDepth(Name, _queue.Count);
                    return key;
                }
            }

            try
            {
                await _signals.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return null;
            }
            catch (ChannelClosedException)
            {
                return null;
            }
        }
    }

    /// <summary>Ends processing of the key; it is queued again if it was added meanwhile.</summary>
    public void Done(string key)
    {
        lock (_gate)
        {
            _processing.Remove(key);
            if (!_dirty.Contains(key) || _shutDown)
            {
                return;
            }

            _queue.Enqueue(key);
            _metrics?.QueueDepth(Name, _queue.Count);
        }

        _signals.Writer.TryWrite(true);
    }

    public void ShutDown()
    {
        lock (_gate)
        {
            _shutDown = true;
            foreach (var (_, pending) in _delayed)
            {
                pending.Timer.Dispose();
            }

            _delayed.Clear();
        }

        _signals.Writer.TryComplete();
    }

    public void Dispose() => ShutDown();

    void Fire(string key)
    {
        lock (_gate)
        {
            if (_delayed.Remove(key, out var pending))
            {
                pending.Timer.Dispose();
            }
        }

        Add(key);
    }
}
