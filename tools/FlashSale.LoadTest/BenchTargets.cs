namespace FlashSale.LoadTest;

/// <summary>One target of issue #6 against what the bench measured: met, or missed and by how much.</summary>
public sealed record TargetResult(string Target, string Measured, bool Met, string? Shortfall);

/// <summary>
/// The performance targets of issue #6 (on a 2-core machine with the load generator on it): the redis order path at least
/// 25x the row-lock gate and 0.40 of the same run's HTTP ceiling, p99 under 25 ms at the bench's connections (at saturation,
/// closed loop, beside the HTTP ceiling's own p99 at its saturation; the open-loop capacity under it is shown too), the
/// outbox drain at least 20,000 orders/s. A target whose measurement the run did not make (a gate left out with --gates) is
/// left out.
/// </summary>
public static class BenchTargets
{
    public const double RowLockRatio = 25, CeilingRatio = 0.40, P99Ms = 25, DrainPerSecond = 20_000;

    public static IReadOnlyList<TargetResult> Evaluate(double redisOverRowLock, double redisOverCeiling, double saturationP99Ms, int connections,
        double drainPerSecond, double? p99CapacityRate = null, double? saturationRate = null, double? ceilingP99Ms = null)
    {
        var results = new List<TargetResult>();
        if (double.IsFinite(redisOverRowLock))
            results.Add(AtLeast($"redis >= {RowLockRatio:0}x row-lock", redisOverRowLock, RowLockRatio, $"{redisOverRowLock:0.0}x"));
        if (double.IsFinite(redisOverCeiling))
            results.Add(AtLeast($"redis >= {CeilingRatio:0.00} of the HTTP ceiling", redisOverCeiling, CeilingRatio, $"{redisOverCeiling:0.00}"));
        if (double.IsFinite(saturationP99Ms))
        {
            // The health check's own p99 at its saturation, over the same connections: an order path does more per request,
            // so at its own saturation it cannot be expected to do better; when the health check misses the target too, the
            // miss is the machine's HTTP path, not the order path's.
            var measured = ceilingP99Ms is { } ceiling && double.IsFinite(ceiling)
                ? $"{saturationP99Ms:0.0} ms at saturation (closed loop; the HTTP ceiling's own: {ceiling:0.0} ms)"
                : $"{saturationP99Ms:0.0} ms at saturation (closed loop)";
            if (p99CapacityRate is { } rate && saturationRate is > 0)
                measured += $"; under {P99Ms:0} ms up to {rate:#,0} req/s open loop ({rate / saturationRate.Value:0.00} of saturation)";
            var met = saturationP99Ms < P99Ms;
            results.Add(new TargetResult($"p99 < {P99Ms:0} ms at {connections} connections", measured, met, met ? null : $"by {saturationP99Ms - P99Ms:0.0} ms"));
        }
        if (double.IsFinite(drainPerSecond))
            results.Add(AtLeast($"outbox drain >= {DrainPerSecond:#,0} orders/s", drainPerSecond, DrainPerSecond, $"{drainPerSecond:#,0}"));
        return results;
    }

    static TargetResult AtLeast(string target, double measured, double goal, string shown) =>
        new(target, shown, measured >= goal, measured >= goal ? null : $"by {(goal - measured) / goal:P0}");
}
