namespace FlashSale.Messaging;

/// <summary>
/// The one wait of the background loops (relay, outbox publisher, consumers, inbox) after consecutive failures: 200 ms
/// doubling, at most 5 s, with a tenth of jitter so that replicas failing together do not retry in step. Request paths
/// with a budget (the wallet debit) use a Polly pipeline instead.
/// </summary>
public static class Backoff
{
    public static TimeSpan After(int failures)
    {
        var ms = Math.Min(5000, 100 * Math.Pow(2, Math.Clamp(failures, 1, 6)));
        return TimeSpan.FromMilliseconds(ms * (0.9 + Random.Shared.NextDouble() * 0.2));
    }
}
