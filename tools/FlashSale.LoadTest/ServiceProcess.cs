using System.Diagnostics;

namespace FlashSale.LoadTest;

/// <summary>A service started as a process (<c>dotnet Service.dll</c>) on a loopback port, its output in a log file.</summary>
public sealed class ServiceProcess : IAsyncDisposable
{
    readonly Process _process;
    public string Name { get; }
    public Uri Url { get; }
    public string LogFile { get; }
    public int Pid => _process.Id;

    ServiceProcess(string name, Uri url, string logFile, Process process) => (Name, Url, LogFile, _process) = (name, url, logFile, process);

    public static ServiceProcess Start(string name, string dll, int port, IDictionary<string, string> settings, string logDir)
    {
        if (!File.Exists(dll)) throw new FileNotFoundException($"{dll} not found: build or publish the services first (scripts/bench.sh does)", dll);
        // A process left on the port (an interrupted run's service) would answer the readiness probe for the one started
        // here, which then fails to bind and exits: the run would measure the stale process with tokens it does not know.
        if (PortAnswers(port))
            throw new InvalidOperationException($"port {port} is in use (a service of an interrupted run?): stop it or choose --base-port");
        Directory.CreateDirectory(logDir);
        var log = Path.GetFullPath(Path.Combine(logDir, $"{name}.log"));
        var url = new Uri($"http://127.0.0.1:{port}");
        dll = Path.GetFullPath(dll);
        // exec through sh so that stdout/stderr go straight to the log file and the pid is the service's own.
        // The working directory is the service's own folder, as in its container image: ASP.NET takes the content root from
        // it, loads appsettings.json from there and watches that folder, recursively, for changes. From the repository
        // root, each service would watch every folder, .run/ included, and wake up for every write of PostgreSQL and Redis.
        var info = new ProcessStartInfo("/bin/sh", ["-c", "exec dotnet \"$0\" >\"$1\" 2>&1", dll, log])
        {
            UseShellExecute = false,
            WorkingDirectory = Path.GetDirectoryName(dll)!,
        };
        info.Environment["ASPNETCORE_URLS"] = url.ToString().TrimEnd('/');
        info.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        // Server GC, as the services' SDK default, unless the caller's environment chooses otherwise (GC experiments).
        if (Environment.GetEnvironmentVariable("DOTNET_gcServer") is null) info.Environment["DOTNET_gcServer"] = "1";
        info.Environment["Logging__LogLevel__Default"] = "Warning";
        info.Environment["Logging__LogLevel__Microsoft.Hosting.Lifetime"] = "Information";
        foreach (var (k, v) in settings) info.Environment[k] = v;
        var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {dll}");
        return new ServiceProcess(name, url, log, process);
    }

    static bool PortAnswers(int port)
    {
        using var socket = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
        try { socket.Connect(System.Net.IPAddress.Loopback, port); return true; }
        catch (System.Net.Sockets.SocketException) { return false; }
    }

    /// <summary>Waits for <c>/healthz/ready</c> to answer 200; fails with the tail of the log if the process dies or times out.</summary>
    public async Task WaitReadyAsync(TimeSpan timeout)
    {
        using var http = new HttpClient { BaseAddress = Url, Timeout = TimeSpan.FromSeconds(2) };
        var deadline = DateTime.UtcNow + timeout;
        string last = "no answer";
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited) throw new InvalidOperationException($"{Name} exited with code {_process.ExitCode}:\n{Tail()}");
            try
            {
                using var r = await http.GetAsync("/healthz/ready");
                if (r.IsSuccessStatusCode) return;
                last = $"{(int)r.StatusCode} {await r.Content.ReadAsStringAsync()}";
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException) { last = e.Message; }
            await Task.Delay(200);
        }
        throw new TimeoutException($"{Name} not ready after {timeout.TotalSeconds:F0}s ({last}):\n{Tail()}");
    }

    string Tail() => File.Exists(LogFile) ? string.Join('\n', File.ReadLines(LogFile).TakeLast(30)) : "";

    bool _disposed;

    /// <summary>SIGTERM (graceful shutdown), then SIGKILL after 15 s. Safe to call again.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_disposed) return;
        _disposed = true;
        if (_process.HasExited) { _process.Dispose(); return; }
        try
        {
            using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString()])) await kill!.WaitForExitAsync();
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(15));
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (Exception e) when (e is OperationCanceledException or System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            try { _process.Kill(); } catch (InvalidOperationException) { }
        }
        _process.Dispose();
    }
}
