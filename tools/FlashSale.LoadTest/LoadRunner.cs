using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text.Json;

namespace FlashSale.LoadTest;

/// <summary>
/// What to send: closed loop (a fixed number of connections each sending back to back) or open loop (a target rate).
/// <paramref name="OnAccepted"/>, when given, sees each 2xx answer with the index of its request (the body is read already);
/// it runs on the sending worker, so it must be quick.
/// </summary>
public sealed record LoadPlan(
    string Name,
    Uri BaseAddress,
    int Connections,
    Func<long, HttpRequestMessage> NewRequest,
    TimeSpan? Duration = null,
    long? Total = null,
    double? Rate = null,
    bool Progress = true,
    Action<long, HttpResponseMessage>? OnAccepted = null);

/// <summary>The outcome of one load run: answers by status and reason, a latency histogram and the wall time.</summary>
public sealed class LoadResult(string name)
{
    public string Name { get; } = name;
    public Histogram Latency { get; } = new();
    /// <summary>Open loop only: how late the client sent each request after its due time (its own scheduling, not the server).</summary>
    public Histogram SendLateness { get; } = new();
    public ConcurrentDictionary<string, long> Answers { get; } = new();
    public TimeSpan Elapsed { get; set; }
    long _accepted, _errors;
    public long Accepted => Interlocked.Read(ref _accepted);
    /// <summary>Transport failures, timeouts and 5xx answers.</summary>
    public long Errors => Interlocked.Read(ref _errors);
    public long Completed => Latency.Count;
    public double RequestsPerSecond => Elapsed.TotalSeconds > 0 ? Completed / Elapsed.TotalSeconds : 0;

    /// <summary>Several runs of one measurement as one: answers and histograms added, wall times summed.</summary>
    public static LoadResult Combine(string name, IReadOnlyCollection<LoadResult> runs)
    {
        var all = new LoadResult(name);
        foreach (var r in runs)
        {
            all.Latency.Add(r.Latency);
            all.SendLateness.Add(r.SendLateness);
            foreach (var (answer, n) in r.Answers) all.Answers.AddOrUpdate(answer, n, (_, m) => m + n);
            all._accepted += r.Accepted;
            all._errors += r.Errors;
            all.Elapsed += r.Elapsed;
        }
        return all;
    }

    internal void Add(string answer, bool accepted, bool error, TimeSpan latency)
    {
        Answers.AddOrUpdate(answer, 1, (_, n) => n + 1);
        if (accepted) Interlocked.Increment(ref _accepted);
        if (error) Interlocked.Increment(ref _errors);
        Latency.Record(latency);
    }
}

public static class LoadRunner
{
    /// <summary>One client for a run: HTTP/1.1 keep-alive connections, at most <paramref name="connections"/> to the server.</summary>
    public static HttpClient CreateClient(Uri baseAddress, int connections) =>
        new(new SocketsHttpHandler
        {
            MaxConnectionsPerServer = connections,
            PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
            AutomaticDecompression = DecompressionMethods.None,
            UseCookies = false,
            UseProxy = false,
            ConnectTimeout = TimeSpan.FromSeconds(10),
        })
        { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(30) };

    public static async Task<LoadResult> RunAsync(LoadPlan plan, CancellationToken ct = default)
    {
        if (plan.Duration is null && plan.Total is null) throw new ArgumentException("a load plan needs a duration or a total");
        using var client = CreateClient(plan.BaseAddress, plan.Connections);
        var result = new LoadResult(plan.Name);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var started = Stopwatch.GetTimestamp();
        if (plan.Duration is { } d) stop.CancelAfter(d);
        using var progress = plan.Progress ? StartProgress(result, plan, started, stop.Token) : null;

        if (plan.Rate is { } rate) await RunOpenLoopAsync(client, plan, rate, result, started, stop.Token);
        else await RunClosedLoopAsync(client, plan, result, stop.Token);

        result.Elapsed = Stopwatch.GetElapsedTime(started);
        await stop.CancelAsync();
        if (plan.Progress) Console.Error.WriteLine();
        return result;
    }

    static async Task RunClosedLoopAsync(HttpClient client, LoadPlan plan, LoadResult result, CancellationToken stop)
    {
        long issued = -1;
        var workers = Enumerable.Range(0, plan.Connections).Select(async _ =>
        {
            await Task.Yield();
            while (!stop.IsCancellationRequested)
            {
                var i = Interlocked.Increment(ref issued);
                if (plan.Total is { } total && i >= total) break;
                await SendAsync(client, plan, i, Stopwatch.GetTimestamp(), result);
            }
        }).ToArray();
        await Task.WhenAll(workers);
    }

    /// <summary>
    /// Open loop over a fixed number of connections (as wrk2 does): request i is due at start + i/rate and is sent by worker
    /// i mod N as soon as that worker is free, so at most N requests are in flight. Latency is measured from the due time, not
    /// the send time, so a server that falls behind shows it in the percentiles instead of slowing the client down
    /// (coordinated omission).
    /// </summary>
    static async Task RunOpenLoopAsync(HttpClient client, LoadPlan plan, double rate, LoadResult result, long started, CancellationToken stop)
    {
        var n = plan.Connections;
        var ticksPerRequest = Stopwatch.Frequency / rate;
        var workers = Enumerable.Range(0, n).Select(async w =>
        {
            await Task.Yield();
            for (long i = w; !stop.IsCancellationRequested; i += n)
            {
                if (plan.Total is { } total && i >= total) break;
                var due = started + (long)(i * ticksPerRequest);
                var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), due);
                if (wait > TimeSpan.Zero)
                {
                    try { await Task.Delay(wait, stop); }
                    catch (OperationCanceledException) { break; }
                }
                result.SendLateness.Record(Stopwatch.GetElapsedTime(due));
                await SendAsync(client, plan, i, due, result);
            }
        }).ToArray();
        await Task.WhenAll(workers);
    }

    static async Task SendAsync(HttpClient client, LoadPlan plan, long i, long scheduled, LoadResult result)
    {
        string answer;
        bool accepted = false, error = false;
        try
        {
            using var request = plan.NewRequest(i);
            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseContentRead);
            var code = (int)response.StatusCode;
            if (code is >= 200 and < 300)
            {
                answer = code.ToString();
                accepted = true;
                plan.OnAccepted?.Invoke(i, response);
            }
            else
            {
                var body = await response.Content.ReadAsByteArrayAsync();
                answer = $"{code} {ReadReason(body) ?? response.ReasonPhrase ?? ""}".TrimEnd();
                error = code >= 500;
            }
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or IOException)
        {
            answer = "ERR " + (e is TaskCanceledException ? "timeout" : e.InnerException?.GetType().Name ?? e.GetType().Name);
            error = true;
        }
        result.Add(answer, accepted, error, Stopwatch.GetElapsedTime(scheduled));
    }

    /// <summary>The <c>reason</c> member of a ProblemDetails body, if any.</summary>
    public static string? ReadReason(ReadOnlySpan<byte> body)
    {
        if (body.IsEmpty) return null;
        try
        {
            var reader = new Utf8JsonReader(body);
            var depth = 0;
            while (reader.Read())
            {
                switch (reader.TokenType)
                {
                    case JsonTokenType.StartObject or JsonTokenType.StartArray: depth++; break;
                    case JsonTokenType.EndObject or JsonTokenType.EndArray: depth--; break;
                    case JsonTokenType.PropertyName when depth == 1 && reader.ValueTextEquals("reason"u8):
                        reader.Read();
                        return reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                }
            }
        }
        catch (JsonException) { }
        return null;
    }

    static Timer StartProgress(LoadResult result, LoadPlan plan, long started, CancellationToken stop)
    {
        long lastCount = 0;
        var lastAt = started;
        return new Timer(_ =>
        {
            if (stop.IsCancellationRequested) return;
            var now = Stopwatch.GetTimestamp();
            var count = result.Completed;
            var rps = (count - lastCount) / Stopwatch.GetElapsedTime(lastAt, now).TotalSeconds;
            (lastCount, lastAt) = (count, now);
            var top = string.Join("  ", result.Answers.OrderByDescending(a => a.Value).Take(4).Select(a => $"{a.Key}:{a.Value}"));
            var of = plan.Total is { } t ? $"/{t}" : "";
            Console.Error.Write($"\r  [{plan.Name}] {Stopwatch.GetElapsedTime(started, now).TotalSeconds,5:F1}s  {count}{of} done  {rps,7:F0} req/s  p99 {result.Latency.PercentileMs(99),6:F1} ms  {top}   ");
        }, null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
    }
}
