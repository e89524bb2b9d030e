using System.Diagnostics;
using System.Security.Cryptography;
using Xunit;

namespace FlashSale.TestSupport;

/// <summary>
/// The four services as processes started the way `make run` starts them: `FlashSale.Operator local --out` renders the
/// sale's Deployments, and each process gets exactly its container's rendered environment (nothing of the test's own).
/// The only things the test provides are what a cluster would: the Secrets (as files) and free loopback ports.
/// </summary>
public sealed class RenderedPlatform : IAsyncDisposable
{
    public static readonly string[] Services = ["users", "orders", "stock", "notifications"];
    readonly Dictionary<string, Process> _processes = [];

    RenderedPlatform(string directory, string saleFile, string saleName, IReadOnlyDictionary<string, int> ports)
    {
        Directory = directory;
        SaleFile = saleFile;
        SaleName = saleName;
        Ports = ports;
    }

    public string Directory { get; }
    public string SaleFile { get; }
    public string SaleName { get; }
    public IReadOnlyDictionary<string, int> Ports { get; }
    public string Secrets => Path.Combine(Directory, "secrets");
    public string Out => Path.Combine(Directory, "platform");
    public string AdminUsername => File.ReadAllText(Path.Combine(Secrets, "flashsale-admin", "username"));
    public string AdminPasswordFile => Path.Combine(Secrets, "flashsale-admin", "password");
    public Uri Url(string service) => new($"http://127.0.0.1:{Ports[service]}");

    /// <summary>Writes the Secrets the sale file names: a fresh database, the shared Redis and RabbitMQ, the given SMTP sink.</summary>
    public static async Task<RenderedPlatform> CreateAsync(string saleFile, string saleName, int smtpPort)
    {
        await Infra.RequireAsync();
        var directory = Path.Combine(Path.GetTempPath(), "flashsale-platform-" + Guid.NewGuid().ToString("N")[..12]);
        var free = Infra.FreePorts(Services.Length);
        var ports = Services.Select((s, i) => (s, i)).ToDictionary(x => x.s, x => free[x.i]);
        var platform = new RenderedPlatform(directory, saleFile, saleName, ports);
        var secrets = new Dictionary<string, string>
        {
            ["flashsale-postgres/connectionString"] = await Infra.CreateDatabaseAsync("platform"),
            ["flashsale-redis/connectionString"] = Infra.Redis,
            ["flashsale-rabbitmq/uri"] = Infra.RabbitMq,
            ["flashsale-signing-key/key.pem"] = TestTokens.NewSigningKeyPem(),
            ["flashsale-admin/username"] = "admin",
            ["flashsale-admin/password"] = Convert.ToBase64String(RandomNumberGenerator.GetBytes(18)),
            ["flashsale-smtp/host"] = "127.0.0.1",
            ["flashsale-smtp/port"] = smtpPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["flashsale-smtp/security"] = "none",
        };
        foreach (var (path, value) in secrets)
        {
            var file = Path.Combine(platform.Secrets, path);
            System.IO.Directory.CreateDirectory(Path.GetDirectoryName(file)!);
            await File.WriteAllTextAsync(file, value);
        }

        return platform;
    }

    /// <summary>`FlashSale.Operator local` with the sale's window moved, as `make run` calls it.</summary>
    public async Task RenderAsync(string startsIn, string endsIn, string paymentTimeout, params string[] env)
    {
        var args = new List<string>
        {
            "--file", SaleFile, "--name", SaleName, "--starts-in", startsIn, "--ends-in", endsIn, "--payment-timeout", paymentTimeout,
            "--out", Out, "--secrets", Secrets, "--redis", Infra.Redis, "--rabbitmq", Infra.RabbitMq,
            "--ports", string.Join(',', Ports.Select(p => $"{p.Key}={p.Value}")),
        };
        foreach (var e in env)
        {
            args.AddRange(["--env", e]);
        }

        // The operator's built output as a process, as `make run` runs it: the test needs no reference to the operator.
        var dll = Path.Combine(Infra.RepoRoot, "operator", "FlashSale.Operator", "bin", BuildConfiguration, "net10.0", "FlashSale.Operator.dll");
        Assert.True(File.Exists(dll), $"{dll} is missing: build the solution first (make test does)");
        var (exitCode, stdout, stderr) = await Infra.RunAsync("dotnet", [dll, "local", .. args], timeout: TimeSpan.FromMinutes(2));
        Assert.True(exitCode == 0, $"FlashSale.Operator local failed ({exitCode}):\n{stdout}{stderr}");
    }

    public IReadOnlyDictionary<string, string> RenderedEnvironment(string service) =>
        File.ReadAllText(Path.Combine(Out, "env", service + ".env")).Split('\0', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split('=', 2)).ToDictionary(kv => kv[0], kv => kv[1]);

    /// <summary>Starts the services' built output with the rendered environment and waits until each is ready.</summary>
    public async Task StartAsync(params string[] services)
    {
        foreach (var service in services)
        {
            var name = "FlashSale." + char.ToUpperInvariant(service[0]) + service[1..];
            var dll = Path.Combine(Infra.RepoRoot, "services", name, "bin", BuildConfiguration, "net10.0", name + ".dll");
            Assert.True(File.Exists(dll), $"{dll} is missing: build the solution first (make test does)");
            var psi = new ProcessStartInfo("dotnet") { WorkingDirectory = Path.GetDirectoryName(dll)!, RedirectStandardOutput = true, RedirectStandardError = true };
            psi.ArgumentList.Add(dll);
            psi.Environment.Clear();
            foreach (var inherited in new[] { "PATH", "HOME", "DOTNET_ROOT", "TMPDIR" })
            {
                if (Environment.GetEnvironmentVariable(inherited) is { } value)
                {
                    psi.Environment[inherited] = value;
                }
            }

            foreach (var (key, value) in RenderedEnvironment(service))
            {
                psi.Environment[key] = value;
            }

            var log = new StreamWriter(Path.Combine(Directory, service + ".log")) { AutoFlush = true };
            var process = Process.Start(psi)!;
            process.OutputDataReceived += (_, e) => { if (e.Data is not null) { lock (log) log.WriteLine(e.Data); } };
            process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { lock (log) log.WriteLine(e.Data); } };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            _processes[service] = process;
        }

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        foreach (var service in services)
        {
            var deadline = DateTime.UtcNow.AddSeconds(90);
            while (true)
            {
                try
                {
                    if ((await http.GetAsync(new Uri(Url(service), "/healthz/ready"))).IsSuccessStatusCode)
                    {
                        break;
                    }
                }
                catch (HttpRequestException)
                {
                }

                if (_processes[service].HasExited || DateTime.UtcNow > deadline)
                {
                    Assert.Fail($"{service} did not become ready:\n{Tail(service)}");
                }

                await Task.Delay(200);
            }
        }
    }

    public string Tail(string service)
    {
        var file = Path.Combine(Directory, service + ".log");
        return File.Exists(file) ? string.Join('\n', File.ReadLines(file).TakeLast(30)) : "(no log)";
    }

    static string BuildConfiguration => AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Debug{Path.DirectorySeparatorChar}") ? "Debug" : "Release";

    public async ValueTask DisposeAsync()
    {
        foreach (var process in _processes.Values)
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }

            await process.WaitForExitAsync();
            process.Dispose();
        }

        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
