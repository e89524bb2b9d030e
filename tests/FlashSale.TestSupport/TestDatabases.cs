using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace FlashSale.TestSupport;

/// <summary>
/// The per-fixture databases that <see cref="Infra.CreateDatabaseAsync"/> creates on the shared PostgreSQL, and the removal of
/// the ones earlier test processes left behind.
/// <para>
/// A name says who made it and when: <c>{prefix}_t{unix seconds, server clock}_h{8 hex}_p{pid}_{8 hex}</c>, where <c>h</c> is a
/// hash of the kernel's boot id and the PID namespace of the creating process (the same value means "this machine, this boot,
/// these PIDs"). The first creation in a process starts a background sweep that drops, one database at a time:
/// </para>
/// <list type="bullet">
/// <item>databases of this scheme whose creating process is gone (same <c>h</c> as ours, no such PID): a plain DROP, which
/// PostgreSQL refuses while any session uses the database;</item>
/// <item>databases of this scheme older than <see cref="MaxAge"/>, whoever made them: DROP ... WITH (FORCE). The age is far
/// longer than a run of <c>make test</c>, so test processes running side by side (or on another machine) never lose a
/// database in use;</item>
/// <item>databases of the old scheme without a time, <c>{prefix}_{32 hex}</c>: a plain DROP (kept while in use).</item>
/// </list>
/// <para>
/// Only names that match one of these patterns exactly, with a prefix from <see cref="Prefixes"/>, are ever dropped: never
/// <c>flashsale</c>, <c>postgres</c>, a template or anything else. A test process cannot drop its own databases at its end:
/// vstest kills the test host 100 ms after the run, so the next test process sweeps them (in <c>make test</c>, the next test
/// project; the last project's databases wait for the next run). Cleanup never fails a test: its errors go to stderr and are
/// swallowed, while creating a database still fails loudly. A sweep cut short by the process exit is harmless: a DROP DATABASE
/// is atomic and the next process goes on.
/// </para>
/// </summary>
public static class TestDatabases
{
    /// <summary>The prefixes test projects use. A new one must be added here so that its leftovers are recognised.</summary>
    public static readonly IReadOnlyList<string> Prefixes = ["users", "msg", "notifications", "sdmig", "payments", "orders", "platform"];

    /// <summary>Databases of the current scheme older than this are dropped even if a session still uses them.</summary>
    public static readonly TimeSpan MaxAge = TimeSpan.FromHours(3);

    static readonly string PrefixGroup = $"(?:{string.Join('|', Prefixes)})";
    static readonly Regex Current = new($"^{PrefixGroup}_t(?<t>[0-9]{{10}})_h(?<h>[0-9a-f]{{8}})_p(?<p>[0-9]{{1,10}})_[0-9a-f]{{8}}$", RegexOptions.CultureInvariant);
    static readonly Regex Legacy = new($"^{PrefixGroup}_[0-9a-f]{{32}}$", RegexOptions.CultureInvariant);

    /// <summary>
    /// This machine's boot and PID namespace, or null where that cannot be told (not Linux): then no database is taken for one
    /// of a dead process, only for an old one.
    /// </summary>
    static readonly string? PidSpace = ReadPidSpace();
    static readonly string Host = PidSpace ?? Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4));

    static int SweepStarted;

    /// <summary>True for the names this class creates or the old scheme created (and so may drop).</summary>
    public static bool IsTestDatabaseName(string name) => Current.IsMatch(name) || Legacy.IsMatch(name);

    internal static async Task<string> CreateAsync(string prefix)
    {
        if (!Prefixes.Contains(prefix))
            throw new ArgumentException($"Unknown test database prefix '{prefix}'. Add it to TestDatabases.Prefixes (tests/FlashSale.TestSupport) " +
                "so that leftover databases with it are recognised and dropped.", nameof(prefix));
        string name;
        await using (var conn = new NpgsqlConnection(Infra.Postgres))
        {
            await conn.OpenAsync();
            // The server's clock, so that an age is right whichever machine created or sweeps the database.
            long now;
            await using (var clock = new NpgsqlCommand("SELECT extract(epoch FROM now())::bigint", conn))
                now = (long)(await clock.ExecuteScalarAsync())!;
            name = $"{prefix}_t{now}_h{Host}_p{Environment.ProcessId}_{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4))}";
            if (!Current.IsMatch(name) || name.Length > 63) throw new InvalidOperationException($"Test database name '{name}' does not match its own pattern.");
            await using var create = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", conn);
            await create.ExecuteNonQueryAsync();
        }
        if (Interlocked.Exchange(ref SweepStarted, 1) == 0) _ = Task.Run(SweepAsync);
        return new NpgsqlConnectionStringBuilder(Infra.Postgres) { Database = name }.ConnectionString;
    }

    static string? ReadPidSpace()
    {
        try
        {
            if (!OperatingSystem.IsLinux()) return null;
            // /proc must show this process's own PID namespace, or "/proc/{pid}" would not say whether a creator still runs.
            if (new DirectoryInfo("/proc/self").LinkTarget != Environment.ProcessId.ToString()) return null;
            var boot = File.ReadAllText("/proc/sys/kernel/random/boot_id").Trim();
            var pidNamespace = new FileInfo("/proc/self/ns/pid").LinkTarget; // "pid:[4026531836]"
            if (boot.Length == 0 || string.IsNullOrEmpty(pidNamespace)) return null;
            return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(boot + "/" + pidNamespace)))[..8];
        }
        catch (Exception) { return null; }
    }

    /// <summary>Why <paramref name="name"/> may be dropped now (and whether WITH (FORCE)), or null to keep it.</summary>
    static (string Reason, bool Force)? Verdict(string name, long serverNow)
    {
        if (Current.Match(name) is { Success: true } m)
        {
            if (serverNow - long.Parse(m.Groups["t"].Value) > MaxAge.TotalSeconds) return ("old", true);
            if (PidSpace is not null && m.Groups["h"].Value == PidSpace && int.TryParse(m.Groups["p"].Value, out var pid)
                && pid != Environment.ProcessId && !Directory.Exists($"/proc/{pid}"))
                return ("creator gone", false);
            return null;
        }
        return Legacy.IsMatch(name) ? ("old scheme", false) : null;
    }

    /// <summary>
    /// One database at a time, on one connection: on PostgreSQL 15 each DROP DATABASE waits for a checkpoint (seen as
    /// IPC/CheckpointDone, about a second each while tests write), so a sweep is kept gentle on the server the tests share.
    /// </summary>
    static async Task SweepAsync()
    {
        var clock = Stopwatch.StartNew();
        int dropped = 0, inUse = 0, failed = 0, candidates = 0;
        string? firstError = null;
        try
        {
            await using var conn = new NpgsqlConnection(
                new NpgsqlConnectionStringBuilder(Infra.Postgres) { Pooling = false, ApplicationName = "flashsale-tests-db-sweep", CommandTimeout = 120 }.ConnectionString);
            await conn.OpenAsync();
            var drops = new List<(string Name, bool Force)>();
            await using (var list = new NpgsqlCommand(
                "SELECT datname, extract(epoch FROM now())::bigint FROM pg_database WHERE NOT datistemplate AND datname <> current_database()", conn))
            await using (var reader = await list.ExecuteReaderAsync())
            {
                while (await reader.ReadAsync())
                    if (Verdict(reader.GetString(0), reader.GetInt64(1)) is { } v) drops.Add((reader.GetString(0), v.Force));
            }
            candidates = drops.Count;
            if (candidates > 0) Log($"sweeping {candidates} leftover test databases in the background");
            // Test processes started side by side sweep the same leftovers: in different orders they mostly drop different ones.
            var order = drops.ToArray();
            Random.Shared.Shuffle(order);
            foreach (var (name, force) in order)
            {
                try
                {
                    await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{name}\"{(force ? " WITH (FORCE)" : "")}", conn);
                    await drop.ExecuteNonQueryAsync();
                    dropped++;
                }
                catch (PostgresException e) when (!force && e.SqlState == PostgresErrorCodes.ObjectInUse) { inUse++; }
                catch (PostgresException e) { failed++; firstError ??= $"{name}: {e.MessageText}"; }
            }
        }
        catch (Exception e) { failed++; firstError ??= e.Message; } // the server went away, say: the next process tries again
        if (candidates > 0 || failed > 0)
            Log($"swept leftover test databases: dropped {dropped} of {candidates} in {clock.Elapsed.TotalSeconds:0.0}s" +
                (inUse > 0 ? $", kept {inUse} in use" : "") + (failed > 0 ? $", {failed} errors (first: {firstError})" : ""));
    }

    static void Log(string message)
    {
        try { Console.Error.WriteLine($"[FlashSale.TestSupport] {message}"); } catch { /* never fail a test run over a log line */ }
    }
}
