using System.Collections.Concurrent;
using System.Globalization;
using System.Text;

namespace FlashSale.Operator.Runtime;

/// <summary>
/// The operator's metrics under controller-runtime's names, written in the Prometheus text format 0.0.4. Kept apart from
/// System.Diagnostics.Metrics on purpose: the names must be exactly controller-runtime's, which dashboards and alerts expect.
/// </summary>
public sealed class OperatorMetrics
{
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    private static readonly double[] Buckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

    private readonly ConcurrentDictionary<(string Controller, string Result), long> reconcileTotal = new();
    private readonly ConcurrentDictionary<string, long> reconcileErrors = new();
    private readonly ConcurrentDictionary<string, Histogram> reconcileTime = new();
    private readonly ConcurrentDictionary<string, long> queueDepth = new();
    private readonly ConcurrentDictionary<string, long> queueAdds = new();
    private readonly ConcurrentDictionary<string, long> queueRetries = new();
    private long leader;

    public void Reconciled(string controller, string result, TimeSpan elapsed)
    {
        reconcileTotal.AddOrUpdate((controller, result), 1, (_, v) => v + 1);
        if (result == "error")
        {
            reconcileErrors.AddOrUpdate(controller, 1, (_, v) => v + 1);
        }

        reconcileTime.GetOrAdd(controller, _ => new Histogram()).Observe(elapsed.TotalSeconds);
    }

    public void QueueAdded(string name) => queueAdds.AddOrUpdate(name, 1, (_, v) => v + 1);

    public void QueueRetried(string name) => queueRetries.AddOrUpdate(name, 1, (_, v) => v + 1);

    public void QueueDepth(string name, int depth) => queueDepth[name] = depth;

    public void Leader(bool isLeader) => Interlocked.Exchange(ref leader, isLeader ? 1 : 0);

    public long ReconcileCount(string controller, string result) => reconcileTotal.GetValueOrDefault((controller, result));

    public string Render()
    {
        var b = new StringBuilder();
        Header(b, "controller_runtime_reconcile_total", "counter", "Total number of reconciliations per controller");
        foreach (var ((controller, result), value) in reconcileTotal.OrderBy(e => e.Key))
        {
            b.Append(CultureInfo.InvariantCulture, $"controller_runtime_reconcile_total{{controller=\"{controller}\",result=\"{result}\"}} {value}\n");
        }

        Header(b, "controller_runtime_reconcile_errors_total", "counter", "Total number of reconciliation errors per controller");
        foreach (var (controller, value) in reconcileErrors.OrderBy(e => e.Key))
        {
            b.Append(CultureInfo.InvariantCulture, $"controller_runtime_reconcile_errors_total{{controller=\"{controller}\"}} {value}\n");
        }

        Header(b, "controller_runtime_reconcile_time_seconds", "histogram", "Length of time per reconciliation per controller");
        foreach (var (controller, histogram) in reconcileTime.OrderBy(e => e.Key))
        {
            histogram.Write(b, "controller_runtime_reconcile_time_seconds", $"controller=\"{controller}\"");
        }

        Header(b, "workqueue_depth", "gauge", "Current depth of workqueue");
        foreach (var (name, value) in queueDepth.OrderBy(e => e.Key))
        {
            b.Append(CultureInfo.InvariantCulture, $"workqueue_depth{{name=\"{name}\"}} {value}\n");
        }

        Header(b, "workqueue_adds_total", "counter", "Total number of adds handled by workqueue");
        foreach (var (name, value) in queueAdds.OrderBy(e => e.Key))
        {
            b.Append(CultureInfo.InvariantCulture, $"workqueue_adds_total{{name=\"{name}\"}} {value}\n");
        }

        Header(b, "workqueue_retries_total", "counter", "Total number of retries handled by workqueue");
        foreach (var (name, value) in queueRetries.OrderBy(e => e.Key))
        {
            b.Append(CultureInfo.InvariantCulture, $"workqueue_retries_total{{name=\"{name}\"}} {value}\n");
        }

        Header(b, "leader_election_master_status", "gauge", "Whether this instance is the leader (1) or not (0)");
        b.Append(CultureInfo.InvariantCulture, $"leader_election_master_status{{name=\"flashsale-operator\"}} {Interlocked.Read(ref leader)}\n");
        return b.ToString();
    }

    private static void Header(StringBuilder b, string name, string type, string help) =>
        b.Append("# HELP ").Append(name).Append(' ').Append(help).Append('\n')
         .Append("# TYPE ").Append(name).Append(' ').Append(type).Append('\n');

    private sealed class Histogram
    {
        private readonly long[] counts = new long[Buckets.Length];
        private readonly object gate = new();
        private long count;
        private double sum;

        public void Observe(double value)
        {
            lock (gate)
            {
                for (var i = 0; i < Buckets.Length; i++)
                {
                    if (value <= Buckets[i])
                    {
                        counts[i]++;
                    }
                }

                count++;
                sum += value;
            }
        }

        public void Write(StringBuilder b, string name, string labels)
        {
            lock (gate)
            {
                for (var i = 0; i < Buckets.Length; i++)
                {
                    b.Append(CultureInfo.InvariantCulture, $"{name}_bucket{{{labels},le=\"{Buckets[i].ToString(CultureInfo.InvariantCulture)}\"}} {counts[i]}\n");
                }

                b.Append(CultureInfo.InvariantCulture, $"{name}_bucket{{{labels},le=\"+Inf\"}} {count}\n");
                b.Append(CultureInfo.InvariantCulture, $"{name}_sum{{{labels}}} {sum.ToString("R", CultureInfo.InvariantCulture)}\n");
                b.Append(CultureInfo.InvariantCulture, $"{name}_count{{{labels}}} {count}\n");
            }
        }
    }
}
