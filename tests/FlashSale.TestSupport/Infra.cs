using System.Net.Sockets;

namespace FlashSale.TestSupport;

/// <summary>
/// Connection settings of the shared local servers started by <c>scripts/infra.sh up</c>.
/// Tests never skip when a server is missing: <see cref="RequireAsync"/> fails them with the command to run.
/// </summary>
public static class Infra
{
    public static string Postgres =>
        Environment.GetEnvironmentVariable("FLASHSALE_POSTGRES")
        ?? "Host=127.0.0.1;Port=54329;Database=flashsale;Username=flashsale;Password=flashsale-dev";

    public static string Redis => Environment.GetEnvironmentVariable("FLASHSALE_REDIS") ?? "127.0.0.1:63790";

    public static string RabbitMq => Environment.GetEnvironmentVariable("FLASHSALE_RABBITMQ") ?? "amqp://guest:guest@127.0.0.1:56720/";

    public static string RepoRoot { get; } = FindRepoRoot();

    public static async Task RequireAsync(bool postgres = true, bool redis = true, bool rabbitMq = true)
    {
        if (postgres) await RequirePortAsync("PostgreSQL", new NpgsqlConnectionStringBuilder(Postgres).Host!, new NpgsqlConnectionStringBuilder(Postgres).Port);
        if (redis) { var parts = Redis.Split(':'); await RequirePortAsync("Redis", parts[0], int.Parse(parts[1])); }
        if (rabbitMq) { var uri = new Uri(RabbitMq); await RequirePortAsync("RabbitMQ", uri.Host, uri.Port); }
    }

    static async Task RequirePortAsync(string what, string host, int port)
    {
        using var client = new TcpClient();
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(3));
            await client.ConnectAsync(host, port, cts.Token);
        }
        catch (Exception e)
        {
            throw new InvalidOperationException($"{what} is not reachable on {host}:{port} ({e.Message}). Start it with: scripts/infra.sh up", e);
        }
    }

    /// <summary>
    /// Creates an empty database for one fixture and returns its connection string (isolates test classes). A later test process
    /// drops it once this one has exited (or it is older than <see cref="TestDatabases.MaxAge"/>); see <see cref="TestDatabases"/>,
    /// which also lists the allowed <paramref name="prefix"/>es.
    /// </summary>
    public static async Task<string> CreateDatabaseAsync(string prefix)
    {
        await RequireAsync(redis: false, rabbitMq: false);
        return await TestDatabases.CreateAsync(prefix);
    }

    /// <summary>Loopback ports the kernel hands out as free right now, all distinct (held open together while chosen).</summary>
    public static int[] FreePorts(int count)
    {
        var listeners = Enumerable.Range(0, count).Select(_ => new TcpListener(System.Net.IPAddress.Loopback, 0)).ToList();
        listeners.ForEach(l => l.Start());
        var ports = listeners.Select(l => ((System.Net.IPEndPoint)l.LocalEndpoint).Port).ToArray();
        listeners.ForEach(l => l.Stop());
        return ports;
    }

    public static int FreePort() => FreePorts(1)[0];

    static string FindRepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "FlashSale.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("FlashSale.sln not found above " + AppContext.BaseDirectory);
    }

    /// <summary>Runs scripts/infra.sh with extra environment (used by <see cref="PrivateInfra"/>).</summary>
    internal static async Task<string> RunInfraScriptAsync(IReadOnlyDictionary<string, string> env, params string[] args)
    {
        var (exitCode, stdout, stderr) = await RunAsync("bash", [Path.Combine(RepoRoot, "scripts", "infra.sh"), .. args], env);
        if (exitCode != 0)
            throw new InvalidOperationException($"scripts/infra.sh {string.Join(' ', args)} failed ({exitCode}): {stderr}");
        return stdout;
    }

    /// <summary>Runs a program from the repository root to its end (or <paramref name="timeout"/>) and returns what it wrote.</summary>
    internal static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(string program, IEnumerable<string> args,
        IReadOnlyDictionary<string, string>? env = null, TimeSpan? timeout = null)
    {
        var psi = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = RepoRoot };
        foreach (var a in args) psi.ArgumentList.Add(a);
        foreach (var (k, v) in env ?? new Dictionary<string, string>()) psi.Environment[k] = v;
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout ?? Timeout.InfiniteTimeSpan);
        await p.WaitForExitAsync(cts.Token);
        return (p.ExitCode, await stdout, await stderr);
    }
}

/// <summary>
/// A private set of servers (own ports, own data directory under .run/) for fault tests that stop and start
/// a server, so that they never disturb the shared instances other tests use.
/// </summary>
public sealed class PrivateInfra : IAsyncDisposable
{
    readonly Dictionary<string, string> _env;

    public int PostgresPort { get; }
    public int RedisPort { get; }
    public int AmqpPort { get; }

    public PrivateInfra(string name)
    {
        // Ports the kernel hands out as free right now (never the shared servers' ports), so that test processes running
        // side by side cannot collide.
        var ports = Infra.FreePorts(4);
        PostgresPort = ports[0]; RedisPort = ports[1]; AmqpPort = ports[2];
        _env = new()
        {
            ["FLASHSALE_RUN_DIR"] = Path.Combine(Infra.RepoRoot, ".run", "private", $"{name}-{Guid.NewGuid().ToString("N")[..8]}"),
            ["FLASHSALE_PG_PORT"] = PostgresPort.ToString(),
            ["FLASHSALE_REDIS_PORT"] = RedisPort.ToString(),
            ["FLASHSALE_AMQP_PORT"] = AmqpPort.ToString(),
            ["FLASHSALE_AMQP_DIST_PORT"] = ports[3].ToString(),
            ["FLASHSALE_RABBIT_NODE"] = $"fs{AmqpPort}",
        };
    }

    public string Postgres => $"Host=127.0.0.1;Port={PostgresPort};Database=flashsale;Username=flashsale;Password=flashsale-dev";
    public string Redis => $"127.0.0.1:{RedisPort}";
    public string RabbitMq => $"amqp://guest:guest@127.0.0.1:{AmqpPort}/";

    public Task StartAsync(params string[] services) => Infra.RunInfraScriptAsync(_env, ["up", .. services]);
    public Task StopAsync(params string[] services) => Infra.RunInfraScriptAsync(_env, ["down", .. services]);

    public async ValueTask DisposeAsync()
    {
        try { await StopAsync(); } catch { /* best effort */ }
        try { Directory.Delete(_env["FLASHSALE_RUN_DIR"], recursive: true); } catch { /* postgres-owned files may remain */ }
    }
}
