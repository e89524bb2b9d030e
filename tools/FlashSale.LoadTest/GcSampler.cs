using System.Globalization;

namespace FlashSale.LoadTest;

/// <summary>
/// Garbage collections and GC pause time over a run, of the measured service (its Prometheus <c>/metrics</c>:
/// <c>dotnet_gc_collections_total</c>, <c>dotnet_gc_pause_time_seconds_total</c>) and of this load generator (in process).
/// A blocking collection stops every request the process has in flight, and the generator's own pauses hold back the answers
/// it is timing, so pauses show in the latency percentiles at saturation: the bench prints them beside the CPU table.
/// </summary>
public static class GcSampler
{
    /// <summary>Collections since the process started (<see cref="GC.CollectionCount"/>: gen0 counts every collection) and total pause.</summary>
    public sealed record Snapshot(long Collections, long Gen1, long Gen2, double PauseSeconds);

    /// <summary>What happened between two snapshots over <paramref name="Seconds"/> of wall time.</summary>
    public sealed record Usage(double Seconds, long Collections, long Gen1, long Gen2, double PauseSeconds)
    {
        public double PerSecond => Collections / Seconds;
        /// <summary>Share of the wall time the process was paused.</summary>
        public double PausedShare => PauseSeconds / Seconds;
        public double MeanPauseMs => Collections > 0 ? 1000 * PauseSeconds / Collections : 0;

        public static Usage? Sum(IEnumerable<Usage?> runs)
        {
            var all = runs.ToList();
            return all.Count == 0 || all.Any(u => u is null) ? null
                : new Usage(all.Sum(u => u!.Seconds), all.Sum(u => u!.Collections), all.Sum(u => u!.Gen1), all.Sum(u => u!.Gen2), all.Sum(u => u!.PauseSeconds));
        }
    }

    public static Snapshot Own() => new(GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2), GC.GetTotalPauseDuration().TotalSeconds);

    /// <summary>The service's counters from its /metrics, or null when it does not answer or does not export them.</summary>
    public static async Task<Snapshot?> ScrapeAsync(HttpClient http, Uri service)
    {
        string text;
        try { text = await http.GetStringAsync(new Uri(service, "/metrics")); }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException) { return null; }
        return Parse(text);
    }

    /// <summary>Reads the GC counters out of a Prometheus text exposition; null when the collections or the pause time are missing.</summary>
    public static Snapshot? Parse(string metrics)
    {
        long? gen0 = null, gen1 = null, gen2 = null;
        double? pause = null;
        foreach (var raw in metrics.Split('\n'))
        {
            var line = raw.Trim();
            if (line.StartsWith('#')) continue;
            var space = line.LastIndexOf(' ');
            if (space < 0 || !double.TryParse(line[(space + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture, out var value)) continue;
            var name = line[..space];
            switch (name)
            {
                case "dotnet_gc_collections_total{generation=\"gen0\"}": gen0 = (long)value; break;
                case "dotnet_gc_collections_total{generation=\"gen1\"}": gen1 = (long)value; break;
                case "dotnet_gc_collections_total{generation=\"gen2\"}": gen2 = (long)value; break;
                case "dotnet_gc_pause_time_seconds_total": pause = value; break;
            }
        }
        return gen0 is { } c && pause is { } p ? new Snapshot(c, gen1 ?? 0, gen2 ?? 0, p) : null;
    }

    public static Usage? Between(Snapshot? before, Snapshot? after, TimeSpan elapsed) =>
        before is null || after is null || elapsed <= TimeSpan.Zero ? null
            : new Usage(elapsed.TotalSeconds, after.Collections - before.Collections, after.Gen1 - before.Gen1, after.Gen2 - before.Gen2,
                after.PauseSeconds - before.PauseSeconds);
}
