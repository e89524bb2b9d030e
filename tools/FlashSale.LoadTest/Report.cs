using System.Globalization;
using System.Text;
using System.Text.Json;

namespace FlashSale.LoadTest;

public static class Report
{
    // A step that never caught up reports an infinite lag; the report must still be written.
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    public static string F(double v, int decimals = 1) => v.ToString("F" + decimals, CultureInfo.InvariantCulture);

    /// <summary>A plain text table: first row is the header, columns right-aligned except the first.</summary>
    public static string Table(IReadOnlyList<string[]> rows)
    {
        var widths = Enumerable.Range(0, rows.Max(r => r.Length)).Select(c => rows.Max(r => c < r.Length ? r[c].Length : 0)).ToArray();
        var sb = new StringBuilder();
        for (var i = 0; i < rows.Count; i++)
        {
            sb.Append("  ");
            for (var c = 0; c < rows[i].Length; c++)
                sb.Append(c == 0 ? rows[i][c].PadRight(widths[c]) : rows[i][c].PadLeft(widths[c])).Append(c < rows[i].Length - 1 ? "  " : "");
            sb.AppendLine();
            if (i == 0) sb.Append("  ").AppendLine(new string('-', widths.Sum() + 2 * (widths.Length - 1)));
        }
        return sb.ToString();
    }

    /// <summary>Answers by status and reason, with share of the total.</summary>
    public static string Answers(LoadResult r)
    {
        var rows = new List<string[]> { new[] { "answer", "count", "share" } };
        foreach (var (answer, count) in r.Answers.OrderByDescending(a => a.Value))
            rows.Add([answer, count.ToString(CultureInfo.InvariantCulture), F(100.0 * count / Math.Max(1, r.Completed)) + " %"]);
        return Table(rows);
    }

    public static string Latency(LoadResult r) =>
        $"  {r.Completed} requests in {F(r.Elapsed.TotalSeconds, 2)} s = {F(r.RequestsPerSecond, 0)} req/s; latency ms: " +
        $"p50 {F(r.Latency.PercentileMs(50), 2)}  p95 {F(r.Latency.PercentileMs(95), 2)}  p99 {F(r.Latency.PercentileMs(99), 2)}  max {F(r.Latency.MaxMs, 2)}  (mean {F(r.Latency.MeanMs, 2)})";

    public static object Summary(LoadResult r) => new
    {
        name = r.Name,
        requests = r.Completed,
        seconds = Math.Round(r.Elapsed.TotalSeconds, 3),
        requestsPerSecond = Math.Round(r.RequestsPerSecond, 1),
        accepted = r.Accepted,
        errors = r.Errors,
        latencyMs = new
        {
            p50 = Math.Round(r.Latency.PercentileMs(50), 3),
            p95 = Math.Round(r.Latency.PercentileMs(95), 3),
            p99 = Math.Round(r.Latency.PercentileMs(99), 3),
            max = Math.Round(r.Latency.MaxMs, 3),
            mean = Math.Round(r.Latency.MeanMs, 3),
        },
        clientSendLatenessMs = r.SendLateness.Count == 0 ? null : new
        {
            p50 = Math.Round(r.SendLateness.PercentileMs(50), 3),
            p99 = Math.Round(r.SendLateness.PercentileMs(99), 3),
            max = Math.Round(r.SendLateness.MaxMs, 3),
        },
        answers = r.Answers.OrderByDescending(a => a.Value).ToDictionary(a => a.Key, a => a.Value),
    };

    public static void WriteJson(string? path, object value)
    {
        if (string.IsNullOrEmpty(path)) return;
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        File.WriteAllText(path, JsonSerializer.Serialize(value, Json));
        Console.WriteLine($"  JSON written to {path}");
    }
}
