using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace FlashSale.ServiceDefaults.Metrics;

/// <summary>Process and runtime gauges under the Prometheus client names dashboards expect (process_cpu_seconds_total, ...).</summary>
sealed class RuntimeMetrics
{
    public RuntimeMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(HttpMetrics.MeterName);
        var startTime = new DateTimeOffset(Process.GetCurrentProcess().StartTime.ToUniversalTime()).ToUnixTimeMilliseconds() / 1000.0;
        meter.CreateObservableCounter("process.cpu", () => Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds, "s", "Total user and system CPU time spent.");
        meter.CreateObservableGauge("process.resident_memory", () => Environment.WorkingSet, "By", "Resident memory size.");
        meter.CreateObservableGauge("process.start_time", () => startTime, "s", "Start time of the process since the Unix epoch.");
        meter.CreateObservableGauge("dotnet.gc.heap_size", () => GC.GetGCMemoryInfo().HeapSizeBytes, "By", "GC heap size after the last collection.");
        meter.CreateObservableCounter("dotnet.gc.collections", () =>
            new[] { 0, 1, 2 }.Select(g => new Measurement<long>(GC.CollectionCount(g), new KeyValuePair<string, object?>("generation", "gen" + g))),
            description: "Garbage collections by generation.");
        meter.CreateObservableCounter("dotnet.gc.pause.time", () => GC.GetTotalPauseDuration().TotalSeconds, "s",
            "Time the process was paused for garbage collection.");
        meter.CreateObservableCounter("dotnet.monitor.lock_contentions", () => Monitor.LockContentionCount,
            description: "Times a thread had to wait for a lock held by another.");
        meter.CreateObservableGauge("dotnet.threadpool.threads", () => (long)ThreadPool.ThreadCount, description: "Thread pool threads.");
        meter.CreateObservableGauge("dotnet.threadpool.queue_length", () => ThreadPool.PendingWorkItemCount, description: "Work items waiting for the thread pool.");
    }
}
