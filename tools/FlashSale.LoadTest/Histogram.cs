namespace FlashSale.LoadTest;

/// <summary>
/// Latency histogram with logarithmic buckets (each 2% wider than the previous, 1 us to ~20 min): fixed memory, lock-free
/// recording from any thread, percentiles within 2%. No per-request list is kept.
/// </summary>
public sealed class Histogram
{
    const double Growth = 1.02;
    static readonly double LogGrowth = Math.Log(Growth);
    const int Buckets = 1100; // 1.02^1100 us ~ 2.8e9 us
    readonly long[] _counts = new long[Buckets];
    long _count, _sumMicros, _maxMicros;

    public long Count => Interlocked.Read(ref _count);
    public double MaxMs => Interlocked.Read(ref _maxMicros) / 1000.0;
    public double MeanMs => Count == 0 ? 0 : Interlocked.Read(ref _sumMicros) / 1000.0 / Count;

    public void Record(TimeSpan elapsed) => RecordMicros((long)(elapsed.Ticks / 10.0));

    public void RecordMicros(long micros)
    {
        if (micros < 1) micros = 1;
        var bucket = Math.Min(Buckets - 1, (int)(Math.Log(micros) / LogGrowth));
        Interlocked.Increment(ref _counts[bucket]);
        Interlocked.Increment(ref _count);
        Interlocked.Add(ref _sumMicros, micros);
        RaiseMax(micros);
    }

    /// <summary>Adds another histogram's samples (e.g. several rounds of one measurement).</summary>
    public void Add(Histogram other)
    {
        for (var i = 0; i < Buckets; i++) Interlocked.Add(ref _counts[i], Interlocked.Read(ref other._counts[i]));
        Interlocked.Add(ref _count, other.Count);
        Interlocked.Add(ref _sumMicros, Interlocked.Read(ref other._sumMicros));
        RaiseMax(Interlocked.Read(ref other._maxMicros));
    }

    void RaiseMax(long micros)
    {
        long max;
        while (micros > (max = Interlocked.Read(ref _maxMicros)) && Interlocked.CompareExchange(ref _maxMicros, micros, max) != max) { }
    }

    /// <summary>The latency (ms) at or below which <paramref name="percentile"/> % of the samples fall (bucket upper bound, capped at max).</summary>
    public double PercentileMs(double percentile)
    {
        var total = Count;
        if (total == 0) return 0;
        var rank = (long)Math.Ceiling(total * percentile / 100.0);
        long seen = 0;
        for (var i = 0; i < Buckets; i++)
        {
            seen += Interlocked.Read(ref _counts[i]);
            if (seen >= rank) return Math.Min(Math.Pow(Growth, i + 1), Interlocked.Read(ref _maxMicros)) / 1000.0;
        }
        return MaxMs;
    }
}
