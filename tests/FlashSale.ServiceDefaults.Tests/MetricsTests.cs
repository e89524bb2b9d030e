using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace FlashSale.ServiceDefaults.Tests;

public sealed class MetricsTests : IAsyncLifetime
{
    WebApplication _app = null!;
    HttpClient _client = null!;

    public async Task InitializeAsync()
    {
        _app = await TestApp.StartAsync(TestTokens.AuthSettings(), app =>
        {
            app.MapGet("/items/{id:int}", (int id) => TypedResults.Ok(id));
            app.MapGet("/fail", string () => throw new InvalidOperationException("boom"));
        });
        _client = _app.Client();
    }

    public async Task DisposeAsync() => await _app.DisposeAsync();

    async Task<string> ScrapeAsync()
    {
        var response = await _client.GetAsync("/metrics");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/plain; version=0.0.4; charset=utf-8", response.Content.Headers.ContentType?.ToString());
        return await response.Content.ReadAsStringAsync();
    }

    static async Task<(int ExitCode, string Output)> PromtoolCheckAsync(string exposition)
    {
        var psi = new ProcessStartInfo("promtool", "check metrics") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(psi) ?? throw new InvalidOperationException("promtool (Debian package prometheus) is not installed");
        await process.StandardInput.WriteAsync(exposition);
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await stdout + await stderr);
    }

    [Fact]
    public async Task MetricsOutputWithEveryInstrumentKindPassesPromtoolCheckMetrics()
    {
        var meter = _app.Services.GetRequiredService<IMeterFactory>().Create("FlashSale.Tests.Shop");
        var accepted = meter.CreateCounter<long>("orders.accepted", description: "Orders accepted.");
        var inFlight = meter.CreateUpDownCounter<int>("orders.in_flight", description: "Orders being handled.");
        var latency = meter.CreateHistogram<double>("orders.reserve.duration", "s", "Time to reserve stock.");
        var size = meter.CreateHistogram<long>("orders.size", description: "Units per order.");
        meter.CreateObservableGauge("stock.remaining", () => new Measurement<long>(42, new KeyValuePair<string, object?>("sku", "ABC-1")), description: "Units left.");
        meter.CreateObservableCounter("relay.batches", () => 7L, description: "Relay batches written.");

        accepted.Add(3, new KeyValuePair<string, object?>("sale", "spring"), new KeyValuePair<string, object?>("sku", "quote\"back\\slash\nnewline"));
        accepted.Add(2, new KeyValuePair<string, object?>("sale", "spring"), new KeyValuePair<string, object?>("sku", "B"));
        inFlight.Add(5); inFlight.Add(-2);
        latency.Record(0.003, new KeyValuePair<string, object?>("gate", "redis"));
        latency.Record(0.2, new KeyValuePair<string, object?>("gate", "redis"));
        latency.Record(42, new KeyValuePair<string, object?>("gate", "redis"));
        size.Record(2);
        await _client.GetAsync("/items/1");
        await _client.GetAsync("/items/2");
        await _client.GetAsync("/nowhere");
        await _client.GetAsync("/fail");

        var text = await ScrapeAsync();
        var (exitCode, output) = await PromtoolCheckAsync(text);
        Assert.True(exitCode == 0 && output.Trim().Length == 0, $"promtool check metrics failed ({exitCode}): {output}\n---\n{text}");

        AssertExposes(text,
            "# TYPE orders_accepted_total counter\n",
            "orders_accepted_total{sale=\"spring\",sku=\"quote\\\"back\\\\slash\\nnewline\"} 3\n",
            "# TYPE orders_in_flight gauge\norders_in_flight 3\n",
            "# TYPE orders_reserve_duration_seconds histogram\n",
            "orders_reserve_duration_seconds_bucket{gate=\"redis\",le=\"0.005\"} 1\n",
            "orders_reserve_duration_seconds_bucket{gate=\"redis\",le=\"10\"} 2\n",
            "orders_reserve_duration_seconds_bucket{gate=\"redis\",le=\"+Inf\"} 3\n",
            "orders_reserve_duration_seconds_count{gate=\"redis\"} 3\n",
            "orders_reserve_duration_seconds_sum{gate=\"redis\"} 42.203\n",
            "orders_size_bucket{le=\"5\"} 1\n",
            "stock_remaining{sku=\"ABC-1\"} 42\n",
            "relay_batches_total 7\n",
            "# TYPE process_cpu_seconds_total counter\n",
            "# TYPE process_resident_memory_bytes gauge\n",
            "dotnet_gc_collections_total{generation=\"gen0\"}",
            "dotnet_gc_pause_time_seconds_total ",
            "dotnet_monitor_lock_contentions_total ");
    }

    [Fact]
    public async Task TheRequestDurationHistogramIsLabelledByRouteTemplateMethodAndStatus()
    {
        await _client.GetAsync("/items/1");
        await _client.GetAsync("/items/2");
        await _client.GetAsync("/nowhere/at/all");
        await _client.GetAsync("/fail");

        var text = await ScrapeAsync();
        AssertExposes(text,
            "http_server_request_duration_seconds_count{method=\"GET\",route=\"/items/{id:int}\",status=\"200\"} 2\n",
            "http_server_request_duration_seconds_count{method=\"GET\",route=\"unmatched\",status=\"404\"} 1\n",
            "http_server_request_duration_seconds_count{method=\"GET\",route=\"/fail\",status=\"500\"} 1\n");
        Assert.DoesNotContain("/items/1", text);
    }

    [Fact]
    public async Task MetersOfAnotherHostInTheSameProcessAreNotExported()
    {
        await using var other = await TestApp.StartAsync(TestTokens.AuthSettings(), _ => { });
        other.Services.GetRequiredService<IMeterFactory>().Create("FlashSale.Tests.Other").CreateCounter<long>("other.host.events").Add(1);
        _app.Services.GetRequiredService<IMeterFactory>().Create("FlashSale.Tests.Mine").CreateCounter<long>("my.host.events").Add(1);

        var text = await ScrapeAsync();
        Assert.Contains("my_host_events_total 1\n", text);
        Assert.DoesNotContain("other_host_events", text);
    }

    [Fact]
    public async Task RememberedLabelSetsKeepSeriesApartByEveryTagNameAndValue()
    {
        var counter = _app.Services.GetRequiredService<IMeterFactory>().Create("FlashSale.Tests.Labels").CreateCounter<long>("label.cache.events");
        for (var i = 0; i < 3; i++)
        {
            counter.Add(1, new("gate", "redis"), new("outcome", "OK"));
            counter.Add(10, new("gate", "redis"), new("outcome", "SOLD_OUT"));
            counter.Add(100, new("outcome", "OK"), new("gate", "redis")); // same labels, other order: the same series
            counter.Add(1000, new("gate", "redis"), new("reason", "OK")); // same values, other tag name: another series
            counter.Add(5, new("gate", "redis"), new("outcome", 200));
            counter.Add(7, new("gate", "redis"), new("outcome", "200")); // int and string 200 print alike: one series
        }
        var text = await ScrapeAsync();
        Assert.Contains("label_cache_events_total{gate=\"redis\",outcome=\"OK\"} 303\n", text);
        Assert.Contains("label_cache_events_total{gate=\"redis\",outcome=\"SOLD_OUT\"} 30\n", text);
        Assert.Contains("label_cache_events_total{gate=\"redis\",reason=\"OK\"} 3000\n", text);
        Assert.Contains("label_cache_events_total{gate=\"redis\",outcome=\"200\"} 36\n", text);
    }

    static void AssertExposes(string exposition, params string[] expected) => Assert.All(expected, e => Assert.Contains(e, exposition));
}
