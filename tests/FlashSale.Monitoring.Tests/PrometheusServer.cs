using System.Diagnostics;
using System.Net;
using System.Text.Json;
using FlashSale.TestSupport;

namespace FlashSale.Monitoring.Tests;

/// <summary>
/// A private Prometheus (Debian's /usr/bin/prometheus, as scripts/infra.sh runs it): its own loopback port and data folder,
/// scraping the given targets every second, with the chart's rule file loaded.
/// </summary>
sealed class PrometheusServer : IAsyncDisposable
{
    public sealed record Target(string Address, IReadOnlyDictionary<string, string> Labels);

    readonly Process _process;
    readonly string _directory;
    readonly HttpClient _http;

    PrometheusServer(Process process, string directory, int port)
    {
        _process = process;
        _directory = directory;
        _http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(10) };
    }

    public static string Binary =>
        new[] { "/usr/bin/prometheus" }.Concat((Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, "prometheus"))).FirstOrDefault(File.Exists)
        ?? throw new InvalidOperationException(
            "prometheus is not installed: run scripts/infra.sh up (it installs Debian's prometheus package), or: sudo apt-get install -y prometheus");

    public static async Task<PrometheusServer> StartAsync(IEnumerable<Target> targets)
    {
        var binary = Binary;
        var directory = Path.Combine(Path.GetTempPath(), "flashsale-prometheus-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(directory);
        var config = new System.Text.StringBuilder($"""
            global:
              scrape_interval: 1s
              evaluation_interval: 1s
            rule_files:
              - {Repository.RuleFile}
            scrape_configs:
              - job_name: flashsale
                static_configs:

            """);
        foreach (var target in targets)
        {
            config.Append($"      - targets: ['{target.Address}']\n        labels: {{");
            config.AppendJoin(", ", target.Labels.Select(l => $"{l.Key}: '{l.Value}'"));
            config.Append("}\n");
        }
        await File.WriteAllTextAsync(Path.Combine(directory, "prometheus.yml"), config.ToString());

        var port = Infra.FreePort();
        var start = new ProcessStartInfo(binary) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = directory };
        foreach (var argument in new[]
                 {
                     "--config.file=" + Path.Combine(directory, "prometheus.yml"), "--storage.tsdb.path=" + Path.Combine(directory, "data"),
                     $"--web.listen-address=127.0.0.1:{port}",
                 })
            start.ArgumentList.Add(argument);
        var process = Process.Start(start)!;
        var log = Path.Combine(directory, "prometheus.log");
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (log) File.AppendAllText(log, e.Data + "\n"); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (log) File.AppendAllText(log, e.Data + "\n"); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var server = new PrometheusServer(process, directory, port);
        for (var deadline = DateTime.UtcNow.AddSeconds(30); ; await Task.Delay(200))
        {
            try
            {
                if ((await server._http.GetAsync("/-/ready")).IsSuccessStatusCode) return server;
            }
            catch (HttpRequestException) { }
            if (process.HasExited || DateTime.UtcNow > deadline)
            {
                var output = File.Exists(log) ? File.ReadAllText(log) : "";
                await server.DisposeAsync();
                throw new InvalidOperationException($"prometheus did not become ready:\n{output}");
            }
        }
    }

    /// <summary>The series an instant query returns (/api/v1/query).</summary>
    public async Task<IReadOnlyList<JsonElement>> QueryAsync(string promql)
    {
        var response = await _http.GetAsync("/api/v1/query?query=" + Uri.EscapeDataString(promql));
        var body = await response.Content.ReadAsStringAsync();
        if (response.StatusCode != HttpStatusCode.OK) throw new InvalidOperationException($"{promql}: {(int)response.StatusCode} {body}");
        var data = JsonDocument.Parse(body).RootElement.GetProperty("data");
        return data.GetProperty("resultType").GetString() is "vector" or "matrix" ? [.. data.GetProperty("result").EnumerateArray().Select(e => e.Clone())] : [];
    }

    /// <summary>Health of the scrape targets, by their "service" label.</summary>
    public async Task<IReadOnlyDictionary<string, string>> TargetHealthAsync()
    {
        var root = JsonDocument.Parse(await _http.GetStringAsync("/api/v1/targets")).RootElement;
        return root.GetProperty("data").GetProperty("activeTargets").EnumerateArray()
            .ToDictionary(t => t.GetProperty("labels").GetProperty("service").GetString()!, t => t.GetProperty("health").GetString()!);
    }

    public async ValueTask DisposeAsync()
    {
        _http.Dispose();
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
        _process.Dispose();
        try { Directory.Delete(_directory, recursive: true); } catch (IOException) { }
    }
}
