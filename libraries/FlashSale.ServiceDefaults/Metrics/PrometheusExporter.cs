using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;

namespace FlashSale.ServiceDefaults.Metrics;

/// <summary>
/// Collects every instrument of the meters named "FlashSale*" (static meters, or meters of this host's <see cref="IMeterFactory"/>)
/// through a <see cref="MeterListener"/> and writes them in the Prometheus text exposition format 0.0.4.
/// </summary>
public sealed class PrometheusExporter : IDisposable
{
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";
    public const string MeterPrefix = "FlashSale";

    static readonly double[] SecondsBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
    static readonly double[] DefaultBuckets = [0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000];

    readonly MeterListener _listener = new();
    readonly ConcurrentDictionary<Instrument, InstrumentState> _instruments = new();
    readonly object _scrapeLock = new();
    readonly IMeterFactory? _meterFactory;

    public PrometheusExporter(IMeterFactory? meterFactory = null)
    {
        _meterFactory = meterFactory;
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (!instrument.Meter.Name.StartsWith(MeterPrefix, StringComparison.Ordinal)) return;
            if (instrument.Meter.Scope is not null && !ReferenceEquals(instrument.Meter.Scope, _meterFactory)) return; // another host's meter
            var state = InstrumentState.Create(instrument);
            if (state is null) return;
            _instruments[instrument] = state;
            listener.EnableMeasurementEvents(instrument, state);
        };
        _listener.MeasurementsCompleted = (instrument, _) => _instruments.TryRemove(instrument, out InstrumentState? _);
        _listener.SetMeasurementEventCallback<double>((i, v, t, s) => ((InstrumentState)s!).Record(v, t));
        _listener.SetMeasurementEventCallback<float>((i, v, t, s) => ((InstrumentState)s!).Record(v, t));
        _listener.SetMeasurementEventCallback<long>((i, v, t, s) => ((InstrumentState)s!).Record(v, t));
        _listener.SetMeasurementEventCallback<int>((i, v, t, s) => ((InstrumentState)s!).Record(v, t));
        _listener.SetMeasurementEventCallback<short>((i, v, t, s) => ((InstrumentState)s!).Record(v, t));
        _listener.SetMeasurementEventCallback<byte>((i, v, t, s) => ((InstrumentState)s!).Record(v, t));
        _listener.SetMeasurementEventCallback<decimal>((i, v, t, s) => ((InstrumentState)s!).Record((double)v, t));
        _listener.Start();
    }

    /// <summary>Writes the current values of all instruments (observable instruments are observed now).</summary>
    public string Scrape()
    {
        lock (_scrapeLock)
        {
            foreach (var state in _instruments.Values) if (state.IsObservable) state.ClearSeries();
            _listener.RecordObservableInstruments();

            var builder = new StringBuilder();
            var families = _instruments.Values
                .GroupBy(s => s.Name, StringComparer.Ordinal)
                .OrderBy(g => g.Key, StringComparer.Ordinal);
            foreach (var family in families)
            {
                var first = family.First();
                var members = family.Where(s => s.Type == first.Type).ToList(); // same name, other type: cannot share a family
                var series = members.SelectMany(m => m.Snapshot()).GroupBy(x => x.Labels).Select(g => g.First()).ToList();
                if (series.Count == 0) continue;
                builder.Append("# HELP ").Append(first.Name).Append(' ').Append(EscapeHelp(first.Help)).Append('\n');
                builder.Append("# TYPE ").Append(first.Name).Append(' ').Append(first.Type).Append('\n');
                foreach (var (labels, value, histogram) in series.OrderBy(x => x.Labels, StringComparer.Ordinal))
                {
                    if (histogram is null)
                    {
                        builder.Append(first.Name).Append(Braces(labels)).Append(' ').Append(Format(value)).Append('\n');
                        continue;
                    }
                    long cumulative = 0;
                    for (var i = 0; i < histogram.Bounds.Length; i++)
                    {
                        cumulative += histogram.Counts[i];
                        builder.Append(first.Name).Append("_bucket").Append(Braces(Join(labels, $"le=\"{Format(histogram.Bounds[i])}\"")))
                            .Append(' ').Append(cumulative.ToString(CultureInfo.InvariantCulture)).Append('\n');
                    }
                    builder.Append(first.Name).Append("_bucket").Append(Braces(Join(labels, "le=\"+Inf\""))).Append(' ')
                        .Append(histogram.Count.ToString(CultureInfo.InvariantCulture)).Append('\n');
                    builder.Append(first.Name).Append("_sum").Append(Braces(labels)).Append(' ').Append(Format(histogram.Sum)).Append('\n');
                    builder.Append(first.Name).Append("_count").Append(Braces(labels)).Append(' ')
                        .Append(histogram.Count.ToString(CultureInfo.InvariantCulture)).Append('\n');
                }
            }
            return builder.ToString();
        }
    }

    public void Dispose() => _listener.Dispose();

    static string Braces(string labels) => labels.Length == 0 ? "" : "{" + labels + "}";
    static string Join(string labels, string extra) => labels.Length == 0 ? extra : labels + "," + extra;

    internal static string Format(double value) => value switch
    {
        double.PositiveInfinity => "+Inf",
        double.NegativeInfinity => "-Inf",
        double.NaN => "NaN",
        _ => value.ToString("R", CultureInfo.InvariantCulture),
    };

    static string EscapeHelp(string help) => help.Replace("\\", "\\\\").Replace("\n", "\\n");
    internal static string EscapeLabelValue(string value) => value.Replace("\\", "\\\\").Replace("\"", "\\\"").Replace("\n", "\\n");

    /// <summary>Prometheus metric or label name: invalid characters (dots, dashes...) become underscores.</summary>
    internal static string SanitizeName(string name, bool label = false)
    {
        var builder = new StringBuilder(name.Length);
        foreach (var c in name)
            builder.Append(char.IsAsciiLetterOrDigit(c) || c == '_' || (c == ':' && !label) ? c : '_');
        if (builder.Length == 0 || char.IsAsciiDigit(builder[0])) builder.Insert(0, '_');
        return builder.ToString();
    }

    /// <summary>OpenTelemetry-to-Prometheus naming: unit suffix (s -> _seconds, By -> _bytes), counters end in _total.</summary>
    internal static string MetricName(Instrument instrument, bool counter)
    {
        var name = SanitizeName(instrument.Name);
        if (name.EndsWith("_total", StringComparison.Ordinal)) name = name[..^"_total".Length];
        var unitSuffix = instrument.Unit switch
        {
            "s" => "_seconds",
            "ms" => "_milliseconds",
            "By" => "_bytes",
            "1" when !counter => "_ratio",
            _ => "",
        };
        if (unitSuffix.Length > 0 && !name.EndsWith(unitSuffix, StringComparison.Ordinal)) name += unitSuffix;
        return counter ? name + "_total" : name;
    }

    sealed record SeriesSnapshot(string Labels, double Value, HistogramSnapshot? Histogram);
    sealed record HistogramSnapshot(double[] Bounds, long[] Counts, long Count, double Sum);

    abstract class InstrumentState(string name, string type, string help, bool isObservable)
    {
        public string Name { get; } = name;
        public string Type { get; } = type;
        public string Help { get; } = help;
        public bool IsObservable { get; } = isObservable;

        public static InstrumentState? Create(Instrument instrument)
        {
            var help = string.IsNullOrWhiteSpace(instrument.Description) ? instrument.Name : instrument.Description;
            var definition = instrument.GetType().GetGenericTypeDefinition();
            if (definition == typeof(Counter<>)) return new SumState(MetricName(instrument, true), "counter", help, false, cumulative: false);
            if (definition == typeof(ObservableCounter<>)) return new SumState(MetricName(instrument, true), "counter", help, true, cumulative: true);
            if (definition == typeof(UpDownCounter<>)) return new SumState(MetricName(instrument, false), "gauge", help, false, cumulative: false);
            if (definition == typeof(ObservableUpDownCounter<>) || definition == typeof(ObservableGauge<>) || definition == typeof(Gauge<>))
                return new SumState(MetricName(instrument, false), "gauge", help, definition != typeof(Gauge<>), cumulative: true);
            if (definition == typeof(Histogram<>)) return new HistogramState(MetricName(instrument, false), help, Buckets(instrument));
            return null;
        }

        static double[] Buckets(Instrument instrument)
        {
            var advice = instrument switch
            {
                Histogram<double> h => h.Advice?.HistogramBucketBoundaries?.ToArray(),
                Histogram<long> h => h.Advice?.HistogramBucketBoundaries?.Select(b => (double)b).ToArray(),
                Histogram<int> h => h.Advice?.HistogramBucketBoundaries?.Select(b => (double)b).ToArray(),
                Histogram<float> h => h.Advice?.HistogramBucketBoundaries?.Select(b => (double)b).ToArray(),
                _ => null,
            };
            return advice is { Length: > 0 } ? [.. advice.Distinct().Order()] : instrument.Unit == "s" ? SecondsBuckets : DefaultBuckets;
        }

        public abstract void Record(double value, ReadOnlySpan<KeyValuePair<string, object?>> tags);
        public abstract void ClearSeries();
        public abstract IEnumerable<SeriesSnapshot> Snapshot();

        const int MaxCachedLabelSets = 1000;
        readonly ConcurrentDictionary<TagSet, string> _labelCache = new();

        /// <summary>
        /// The label string of a tag set, remembered per instrument (up to 1,000 distinct sets; beyond that computed each time),
        /// so that a measurement on the request path does not sort, format and concatenate its tags again.
        /// </summary>
        protected string Labels(ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            if (tags.Length == 0) return "";
            if (tags.Length > TagSet.Capacity) return LabelsOf(tags);
            var key = new TagSet(tags);
            if (_labelCache.TryGetValue(key, out var labels)) return labels;
            labels = LabelsOf(tags);
            if (_labelCache.Count < MaxCachedLabelSets) _labelCache.TryAdd(key, labels);
            return labels;
        }

        /// <summary>Up to four tags, compared by name (ordinal) and value (Equals), in the order they were given.</summary>
        readonly struct TagSet : IEquatable<TagSet>
        {
            public const int Capacity = 4;
            readonly int _count;
            readonly string? _k0, _k1, _k2, _k3;
            readonly object? _v0, _v1, _v2, _v3;

            public TagSet(ReadOnlySpan<KeyValuePair<string, object?>> tags)
            {
                _count = tags.Length;
                if (_count > 0) (_k0, _v0) = (tags[0].Key, tags[0].Value);
                if (_count > 1) (_k1, _v1) = (tags[1].Key, tags[1].Value);
                if (_count > 2) (_k2, _v2) = (tags[2].Key, tags[2].Value);
                if (_count > 3) (_k3, _v3) = (tags[3].Key, tags[3].Value);
            }

            public bool Equals(TagSet o) => _count == o._count
                && string.Equals(_k0, o._k0, StringComparison.Ordinal) && Equals(_v0, o._v0)
                && string.Equals(_k1, o._k1, StringComparison.Ordinal) && Equals(_v1, o._v1)
                && string.Equals(_k2, o._k2, StringComparison.Ordinal) && Equals(_v2, o._v2)
                && string.Equals(_k3, o._k3, StringComparison.Ordinal) && Equals(_v3, o._v3);

            public override bool Equals(object? obj) => obj is TagSet o && Equals(o);

            public override int GetHashCode() => HashCode.Combine(_count, _k0, _v0, _k1, _v1, _k2, _v2, HashCode.Combine(_k3, _v3));
        }

        protected static string LabelsOf(ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            if (tags.Length == 0) return "";
            var pairs = new List<KeyValuePair<string, string>>(tags.Length);
            foreach (var tag in tags)
            {
                var name = SanitizeName(tag.Key, label: true);
                if (name.StartsWith("__", StringComparison.Ordinal) || name == "le") name = "tag" + name;
                pairs.Add(new(name, Convert.ToString(tag.Value, CultureInfo.InvariantCulture) ?? ""));
            }
            pairs.Sort((a, b) => string.CompareOrdinal(a.Key, b.Key));
            var builder = new StringBuilder();
            string? previous = null;
            foreach (var (key, value) in pairs)
            {
                if (key == previous) continue; // two tags mapping to one label name: keep the first
                if (builder.Length > 0) builder.Append(',');
                builder.Append(key).Append("=\"").Append(EscapeLabelValue(value)).Append('"');
                previous = key;
            }
            return builder.ToString();
        }
    }

    sealed class SumState(string name, string type, string help, bool isObservable, bool cumulative) : InstrumentState(name, type, help, isObservable)
    {
        readonly ConcurrentDictionary<string, StrongBox> _series = new(StringComparer.Ordinal);

        public override void Record(double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            var box = _series.GetOrAdd(Labels(tags), _ => new StrongBox());
            lock (box)
            {
                if (cumulative) box.Value = value; else box.Value += value;
            }
        }

        public override void ClearSeries() => _series.Clear();

        public override IEnumerable<SeriesSnapshot> Snapshot()
        {
            foreach (var (labels, box) in _series)
            {
                double value;
                lock (box) value = box.Value;
                yield return new SeriesSnapshot(labels, value, null);
            }
        }

        sealed class StrongBox { public double Value; }
    }

    sealed class HistogramState(string name, string help, double[] bounds) : InstrumentState(name, "histogram", help, false)
    {
        readonly ConcurrentDictionary<string, Series> _series = new(StringComparer.Ordinal);

        public override void Record(double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            var series = _series.GetOrAdd(Labels(tags), _ => new Series(bounds.Length));
            var index = Array.BinarySearch(bounds, value);
            if (index < 0) index = ~index; // first bound >= value (le is inclusive); bounds.Length means +Inf only
            lock (series)
            {
                if (index < bounds.Length) series.Counts[index]++;
                series.Count++;
                series.Sum += value;
            }
        }

        public override void ClearSeries() => _series.Clear();

        public override IEnumerable<SeriesSnapshot> Snapshot()
        {
            foreach (var (labels, series) in _series)
            {
                HistogramSnapshot snapshot;
                lock (series) snapshot = new HistogramSnapshot(bounds, (long[])series.Counts.Clone(), series.Count, series.Sum);
                yield return new SeriesSnapshot(labels, 0, snapshot);
            }
        }

        sealed class Series(int buckets)
        {
            public readonly long[] Counts = new long[buckets];
            public long Count;
            public double Sum;
        }
    }
}
