namespace FlashSale.Orders.Relay;

/// <summary>The relay's and the outbox publisher's wait after consecutive failures: 200 ms doubling, at most 5 s.</summary>
static class Backoff
{
    public static TimeSpan After(int failures) => TimeSpan.FromMilliseconds(Math.Min(5000, 100 * Math.Pow(2, Math.Min(failures, 6))));
}
