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

    static readonly double[] Buckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

    readonly ConcurrentDictionary<(string Controller, string Result), long> _reconcileTotal = new();
    readonly ConcurrentDictionary<string, long> _reconcileErrors = new();
    readonly ConcurrentDictionary<string, Histogram> _reconcileTime = new();
    readonly ConcurrentDictionary<string, long> _queueDepth = new();
    readonly ConcurrentDictionary<string, long> _queueAdds = new();
    readonly ConcurrentDictionary<string, long> _queueRetries = new();
    long _leader;

    public void Reconciled(string controller, string result, TimeSpan elapsed)
    {
        _reconcileTotal.AddOrUpdate((controller, result), 1, (_, v) => v + 1);
        if (result == "error")
        {
            _reconcileErrors.AddOrUpdate(controller, 1, (_, v) => v + 1);
        }

        _reconcileTime.GetOrAdd(controller, _ => new Histogram()).Observe(elapsed.TotalSeconds);
    }

    public void QueueAdded(string name) => _queueAdds.AddOrUpdate(name, 1, (_, v) => v + 1);

    public void QueueRetried(string name) => _queueRetries.AddOrUpdate(name, 1, (_, v) => v + 1);

    public void QueueDepth(string name, int depth) => _queueDepth[name] = depth;

    public void Leader(bool isLeader) => Interlocked.Exchange(ref _leader, isLeader ? 1 : 0);

    public long ReconcileCount(string controller, string result) => _reconcileTotal.GetValueOrDefault((controller, result));

    public string Render()
    {
        var b = new StringBuilder();
        Header(b, "controller_runtime_reconcile_total", "counter", "Total number of reconciliations per controller");
        foreach (var ((controller, result), value) in _reconcileTotal.OrderBy(e => e.Key))
        {
            b.Append(CultureInfo.InvariantCulture, $"controller_runtime_reconcile_total{{controller=\"{controller}\",result=\"{result}\"}} {value}\n");
        }

        Header(b, "controller_runtime_reconcile_errors_total", "counter", "Total number of reconciliation errors per controller");
        foreach (var (controller, value) in _reconcileErrors.OrderBy(e => e.Key))
        {
            b.Append(CultureInfo.InvariantCulture, $"controller_runtime_reconcile_errors_total{{controller=\"{controller}\"}} {value}\n");
        }

        Header(b, "controller_runtime_reconcile_time_seconds", "histogram", "Length of time per reconciliation per controller");
        foreach (var (controller, histogram) in _reconcileTime.OrderBy(e => e.Key))
        {
            histogram.Write(b, "controller_runtime_reconcile_time_seconds", $"controller=\"{controller}\"");
        }

        Header(b, "workqueue_depth", "gauge", "Current depth of workqueue");
        foreach (var (name, value) in _queueDepth.OrderBy(e => e.Key))
        {
            b.Append(CultureInfo.InvariantCulture, $"workqueue_depth{{name=\"{name}\"}} {value}\n");
        }

        Header(b, "workqueue_adds_total", "counter", "Total number of adds handled by workqueue");
        foreach (var (name, value) in _queueAdds.OrderBy(e => e.Key))
        {
            b.Append(CultureInfo.InvariantCulture, $"workqueue_adds_total{{name=\"{name}\"}} {value}\n");
        }

        Header(b, "workqueue_retries_total", "counter", "Total number of retries handled by workqueue");
        foreach (var (name, value) in _queueRetries.OrderBy(e => e.Key))
        {
            b.Append(CultureInfo.InvariantCulture, $"workqueue_retries_total{{name=\"{name}\"}} {value}\n");
        }

        Header(b, "leader_election_master_status", "gauge", "Whether this instance is the leader (1) or not (0)");
        b.Append(CultureInfo.InvariantCulture, $"leader_election_master_status{{name=\"flashsale-operator\"}} {Interlocked.Read(ref _leader)}\n");
        return b.ToString();
    }

    static void Header(StringBuilder b, string name, string type, string help) =>
        b.Append("# HELP ").Append(name).Append(' ').Append(help).Append('\n')
         .Append("# TYPE ").Append(name).Append(' ').Append(type).Append('\n');

    sealed class Histogram
    {
        readonly long[] _counts = new long[Buckets.Length];
        readonly object _gate = new();
        long _count;
        double _sum;

        public void Observe(double value)
        {
            lock (_gate)
            {
                for (var i = 0; i < Buckets.Length; i++)
                {
                    if (value <= Buckets[i])
                    {
                        _counts[i]++;
                    }
                }

                _count++;
                _sum += value;
            }
        }

        public void Write(StringBuilder b, string name, string labels)
        {
            lock (_gate)
            {
                for (var i = 0; i < Buckets.Length; i++)
                {
                    b.Append(CultureInfo.InvariantCulture, $"{name}_bucket{{{labels},le=\"{Buckets[i].ToString(CultureInfo.InvariantCulture)}\"}} {_counts[i]}\n");
                }

                b.Append(CultureInfo.InvariantCulture, $"{name}_bucket{{{labels},le=\"+Inf\"}} {_count}\n");
                b.Append(CultureInfo.InvariantCulture, $"{name}_sum{{{labels}}} {_sum.ToString("R", CultureInfo.InvariantCulture)}\n");
                b.Append(CultureInfo.InvariantCulture, $"{name}_count{{{labels}}} {_count}\n");
            }
        }
    }
}
