using System.Diagnostics;

namespace FlashSale.Monitoring.Tests;

/// <summary>Runs Debian's promtool (package prometheus, installed by scripts/infra.sh up).</summary>
static class Promtool
{
    public sealed record Result(int ExitCode, string Output);

    public static Result Run(string workingDirectory, params string[] arguments)
    {
        var path = Find() ?? throw new InvalidOperationException(
            "promtool is not installed: run scripts/infra.sh up (it installs Debian's prometheus package, which has promtool).");
        var start = new ProcessStartInfo(path)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {path}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(2)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"promtool {string.Join(' ', arguments)} ran for more than 2 minutes");
        }
        return new Result(process.ExitCode, stdout.Result + stderr.Result);
    }

    static string? Find() =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, "promtool"))
            .FirstOrDefault(File.Exists);
}
