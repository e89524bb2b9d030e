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
    private readonly object gate = new();
    private readonly Queue<string> queue = new();
    private readonly HashSet<string> dirty = [];
    private readonly HashSet<string> processing = [];
    private readonly Dictionary<string, int> failures = [];
    private readonly Dictionary<string, (DateTimeOffset At, ITimer Timer)> delayed = [];
    private readonly Channel<bool> signals = Channel.CreateUnbounded<bool>();
    private readonly TimeProvider time;
    private readonly OperatorMetrics? metrics;
    private bool shutDown;

    public WorkQueue(string name, TimeProvider? time = null, OperatorMetrics? metrics = null)
    {
        Name = name;
        this.time = time ?? TimeProvider.System;
        this.metrics = metrics;
    }

    public string Name { get; }

    public TimeSpan BaseDelay { get; init; } = TimeSpan.FromMilliseconds(5);

    public TimeSpan MaxDelay { get; init; } = TimeSpan.FromSeconds(1000);

    public int Count
    {
        get
        {
            lock (gate)
            {
                return queue.Count;
            }
        }
    }

    public void Add(string key)
    {
        lock (gate)
        {
            if (shutDown || !dirty.Add(key))
            {
                return;
            }

            metrics?.QueueAdded(Name);
            if (processing.Contains(key))
            {
                return;
            }

            queue.Enqueue(key);
            metrics?.QueueDepth(Name, queue.Count);
        }

        signals.Writer.TryWrite(true);
    }

    /// <summary>Adds the key after <paramref name="delay"/>; an earlier pending delayed add of the same key wins.</summary>
    public void AddAfter(string key, TimeSpan delay)
    {
        if (delay <= TimeSpan.Zero)
        {
            Add(key);
            return;
        }

        lock (gate)
        {
            if (shutDown)
            {
                return;
            }

            var at = time.GetUtcNow() + delay;
            if (delayed.TryGetValue(key, out var pending))
            {
                if (pending.At <= at)
                {
                    return;
                }

                pending.Timer.Dispose();
            }

            var timer = time.CreateTimer(_ => Fire(key), null, delay, Timeout.InfiniteTimeSpan);
            delayed[key] = (at, timer);
        }
    }

    /// <summary>Adds the key after its backoff: 5 ms x 2^(failures so far), at most <see cref="MaxDelay"/>.</summary>
    public TimeSpan AddRateLimited(string key)
    {
        TimeSpan delay;
        lock (gate)
        {
            var n = failures.GetValueOrDefault(key);
            failures[key] = n + 1;
            var ms = BaseDelay.TotalMilliseconds * Math.Pow(2, Math.Min(n, 40));
            delay = ms >= MaxDelay.TotalMilliseconds ? MaxDelay : TimeSpan.FromMilliseconds(ms);
        }

        metrics?.QueueRetried(Name);
        AddAfter(key, delay);
        return delay;
    }

    /// <summary>Clears the key's backoff (after a successful reconcile).</summary>
    public void Forget(string key)
    {
        lock (gate)
        {
            failures.Remove(key);
        }
    }

    public int Failures(string key)
    {
        lock (gate)
        {
            return failures.GetValueOrDefault(key);
        }
    }

    /// <summary>The next key to process; null once shut down.</summary>
    public async Task<string?> GetAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            lock (gate)
            {
                if (shutDown)
                {
                    return null;
                }

                if (queue.TryDequeue(out var key))
                {
                    dirty.Remove(key);
                    processing.Add(key);
                    metrics?.QueueDepth(Name, queue.Count);
                    return key;
                }
            }

            try
            {
                await signals.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
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
        lock (gate)
        {
            processing.Remove(key);
            if (!dirty.Contains(key) || shutDown)
            {
                return;
            }

            queue.Enqueue(key);
            metrics?.QueueDepth(Name, queue.Count);
        }

        signals.Writer.TryWrite(true);
    }

    public void ShutDown()
    {
        lock (gate)
        {
            shutDown = true;
            foreach (var (_, pending) in delayed)
            {
                pending.Timer.Dispose();
            }

            delayed.Clear();
        }

        signals.Writer.TryComplete();
    }

    public void Dispose() => ShutDown();

    private void Fire(string key)
    {
        lock (gate)
        {
            if (delayed.Remove(key, out var pending))
            {
                pending.Timer.Dispose();
            }
        }

        Add(key);
    }
}
