using System.Globalization;

namespace FlashSale.LoadTest;

/// <summary>
/// CPU time per process group over a run, from <c>/proc</c> (Linux): the bench's "where the time goes" column. Throughput on a
/// shared 2-core VM moves by a third between runs of the same code; CPU microseconds per request move far less, so they are what
/// an optimisation is judged by. Groups are named sets of local processes (a pid, or every process with a given command name);
/// "machine" is the whole machine's busy time from <c>/proc/stat</c>, so "machine - the groups" is everything else (other
/// services, the kernel's soft interrupts not charged to a process, other tenants' work inside this VM).
/// Where <c>/proc</c> is missing (not Linux) the sampler reports nothing and the bench prints no CPU table.
/// </summary>
public sealed class CpuSampler
{
    public sealed record Group(string Name, Func<IEnumerable<int>> Pids);

    public sealed record Snapshot(long MachineBusy, long MachineTotal, long Steal, IReadOnlyDictionary<string, long> Groups);

    /// <summary>CPU seconds of each group between two snapshots, the machine's busy share of its capacity, and stolen time.</summary>
    public sealed record Usage(double Seconds, double MachineBusySeconds, double MachineBusyShare, double StealShare, IReadOnlyDictionary<string, double> GroupSeconds)
    {
        /// <summary>Microseconds of CPU per request (or per unit) for a group, or for the whole machine with "machine".</summary>
        public double MicrosPer(string group, long units) =>
            units <= 0 ? double.NaN : (group == "machine" ? MachineBusySeconds : GroupSeconds.GetValueOrDefault(group, double.NaN)) * 1e6 / units;

        /// <summary>Several runs as one (rounds of a measurement): seconds added, shares weighted by duration.</summary>
        public static Usage? Sum(IEnumerable<Usage?> runs)
        {
            var all = runs.ToList();
            if (all.Count == 0 || all.Any(u => u is null)) return null;
            var seconds = all.Sum(u => u!.Seconds);
            return new Usage(seconds, all.Sum(u => u!.MachineBusySeconds),
                all.Sum(u => u!.MachineBusyShare * u.Seconds) / seconds, all.Sum(u => u!.StealShare * u.Seconds) / seconds,
                all.SelectMany(u => u!.GroupSeconds).GroupBy(kv => kv.Key).ToDictionary(g => g.Key, g => g.Sum(kv => kv.Value)));
        }
    }

    static readonly double TicksPerSecond = ClockTicks();
    readonly IReadOnlyList<Group> _groups;

    public CpuSampler(IReadOnlyList<Group> groups) => _groups = groups;

    public static bool Available => File.Exists("/proc/stat");

    public IReadOnlyList<string> GroupNames => [.. _groups.Select(g => g.Name)];

    /// <summary>
    /// How a local process is scheduled (fields 19, 40 and 41 of <c>/proc/PID/stat</c>: nice, real-time priority, policy), or
    /// null when it cannot be read.
    /// </summary>
    public static SchedulingPriority? Priority(int pid)
    {
        var f = StatFields(pid);
        if (f is not { Length: > 38 }) return null;
        return int.TryParse(f[16], NumberStyles.Integer, CultureInfo.InvariantCulture, out var nice)
            && int.TryParse(f[37], NumberStyles.Integer, CultureInfo.InvariantCulture, out var realTime)
            && int.TryParse(f[38], NumberStyles.Integer, CultureInfo.InvariantCulture, out var policy)
            ? new SchedulingPriority(policy switch
            {
                0 => "SCHED_OTHER",
                1 => "SCHED_FIFO",
                2 => "SCHED_RR",
                3 => "SCHED_BATCH",
                5 => "SCHED_IDLE",
                6 => "SCHED_DEADLINE",
                _ => $"policy {policy}",
            }, realTime, nice)
            : null;
    }

    public Snapshot? Take()
    {
        if (!Available) return null;
        var (busy, total, steal) = ReadMachine();
        var groups = new Dictionary<string, long>();
        foreach (var g in _groups)
        {
            long sum = 0;
            foreach (var pid in g.Pids().Distinct()) sum += ReadProcessTicks(pid);
            groups[g.Name] = sum;
        }
        return new Snapshot(busy, total, steal, groups);
    }

    /// <summary>The difference of two snapshots (processes that ended in between lose their last ticks: short-lived ones are not counted).</summary>
    public static Usage? Between(Snapshot? a, Snapshot? b, TimeSpan elapsed)
    {
        if (a is null || b is null || b.MachineTotal <= a.MachineTotal) return null;
        var total = b.MachineTotal - a.MachineTotal;
        var busy = b.MachineBusy - a.MachineBusy;
        return new Usage(elapsed.TotalSeconds, busy / TicksPerSecond, (double)busy / total, (double)(b.Steal - a.Steal) / total,
            b.Groups.ToDictionary(kv => kv.Key, kv => Math.Max(0, kv.Value - a.Groups.GetValueOrDefault(kv.Key)) / TicksPerSecond));
    }

    /// <summary>Every local process whose command name (<c>/proc/pid/comm</c>) is <paramref name="comm"/>.</summary>
    public static IEnumerable<int> ByName(string comm)
    {
        if (!Directory.Exists("/proc")) yield break;
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid)) continue;
            string name;
            try { name = File.ReadAllText(Path.Combine(dir, "comm")).TrimEnd('\n'); }
            catch (IOException) { continue; }
            catch (UnauthorizedAccessException) { continue; }
            if (name == comm) yield return pid;
        }
    }

    static (long Busy, long Total, long Steal) ReadMachine()
    {
        // cpu  user nice system idle iowait irq softirq steal guest guest_nice (guest time is already inside user)
        var f = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1)
            .Select(x => long.Parse(x, CultureInfo.InvariantCulture)).ToArray();
        var idle = f[3] + f[4];
        var total = f.Take(8).Sum();
        return (total - idle - f[7], total, f[7]);
    }

    /// <summary>utime (field 14) + stime (field 15) of a local process, 0 when it cannot be read.</summary>
    static long ReadProcessTicks(int pid)
    {
        var f = StatFields(pid);
        return f is { Length: > 12 } && long.TryParse(f[11], CultureInfo.InvariantCulture, out var utime) && long.TryParse(f[12], CultureInfo.InvariantCulture, out var stime)
            ? utime + stime : 0;
    }

    /// <summary>
    /// The fields of <c>/proc/PID/stat</c> after the command name (which may hold spaces and parentheses): index 0 is field 3
    /// (state), so field N is at N - 3. Null when the process is gone or unreadable.
    /// </summary>
    static string[]? StatFields(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var end = stat.LastIndexOf(')');
            return end < 0 || end + 2 > stat.Length ? null : stat[(end + 2)..].Split(' ');
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
    }

    static double ClockTicks()
    {
        // USER_HZ is 100 on every Linux ABI .NET runs on; getconf is asked in case a kernel says otherwise.
        try
        {
            using var p = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("getconf", "CLK_TCK") { RedirectStandardOutput = true });
            var text = p!.StandardOutput.ReadToEnd().Trim();
            p.WaitForExit();
            return double.TryParse(text, CultureInfo.InvariantCulture, out var hz) && hz > 0 ? hz : 100;
        }
        catch (Exception) { return 100; }
    }
}

/// <summary>A process's scheduling: its policy, its real-time priority (1-99 under SCHED_FIFO/SCHED_RR, else 0), its nice value.</summary>
public sealed record SchedulingPriority(string Policy, int RealTime, int Nice)
{
    public bool IsRealTime => Policy is "SCHED_FIFO" or "SCHED_RR";

    /// <summary>Ahead of processes at the default priority: real-time, or a negative nice value.</summary>
    public bool IsRaised => IsRealTime || Nice < 0;

    public override string ToString() => IsRealTime ? $"real-time priority ({Policy} {RealTime})" : $"CPU priority nice {Nice}";
}
