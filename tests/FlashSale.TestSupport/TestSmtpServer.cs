using System.Net;
using System.Net.Sockets;

namespace FlashSale.TestSupport;

/// <summary>
/// A real SMTP server on loopback: Debian's aiosmtpd (package python3-aiosmtpd, installed by scripts/infra.sh) with its
/// Maildir handler, so every accepted message is a file the test can read. It can be stopped and started again on the same
/// port to play an outage.
/// </summary>
public sealed class TestSmtpServer : IAsyncDisposable
{
    const string Python = "/usr/bin/python3";
    readonly string _maildir = Path.Combine(Path.GetTempPath(), "flashsale-smtp-" + Guid.NewGuid().ToString("N"));
    Process? _process;

    public int Port { get; private set; }

    /// <summary>The Maildir the server delivers into (new/ holds one file a message).</summary>
    public string Maildir => _maildir;

    /// <summary>Every message the server accepted (headers and body as received).</summary>
    public IReadOnlyCollection<string> Messages =>
        new[] { "new", "cur" }.Select(d => Path.Combine(_maildir, d)).Where(Directory.Exists)
            .SelectMany(Directory.GetFiles).Select(File.ReadAllText).ToList();

    public void Start()
    {
        if (!File.Exists(Python)) throw new InvalidOperationException($"{Python} is missing: run scripts/infra.sh up (it installs python3-aiosmtpd)");
        if (Port == 0)
        {
            var probe = new TcpListener(IPAddress.Loopback, 0);
            probe.Start();
            Port = ((IPEndPoint)probe.LocalEndpoint).Port;
            probe.Stop();
        }
        var psi = new ProcessStartInfo(Python) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in new[] { "-m", "aiosmtpd", "-n", "-l", $"127.0.0.1:{Port}", "-c", "aiosmtpd.handlers.Mailbox", _maildir }) psi.ArgumentList.Add(a);
        _process = Process.Start(psi)!;
        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (true)
        {
            try
            {
                using var client = new TcpClient();
                client.Connect(IPAddress.Loopback, Port);
                using var reader = new StreamReader(client.GetStream());
                if (reader.ReadLine()?.StartsWith("220") == true) return;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline && !_process.HasExited) { }
            if (_process.HasExited) throw new InvalidOperationException($"aiosmtpd exited with {_process.ExitCode} (is python3-aiosmtpd installed?)");
            if (DateTime.UtcNow >= deadline) throw new TimeoutException("aiosmtpd did not greet within 15 s");
            Thread.Sleep(100);
        }
    }

    public async Task StopAsync()
    {
        if (_process is null) return;
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
        _process.Dispose();
        _process = null;
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        try { Directory.Delete(_maildir, recursive: true); } catch (IOException) { }
    }
}
