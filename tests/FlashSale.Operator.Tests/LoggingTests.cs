using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Console;
using Microsoft.Extensions.Options;

namespace FlashSale.Operator.Tests;

public class LoggingTests
{
    [Fact]
    public async Task TheOperatorWritesOneJsonObjectPerLineWithScopesAndUtcTimestampsAsTheServicesDo()
    {
        await using var app = OperatorHost.Build(["--urls=http://127.0.0.1:0"]);
        var options = app.Services.GetRequiredService<IOptionsMonitor<ConsoleLoggerOptions>>().CurrentValue;
        var formatter = app.Services.GetServices<ConsoleFormatter>().Single(f => f.Name == options.FormatterName);
        var scopes = new LoggerExternalScopeProvider();
        using var writer = new StringWriter();

        using (scopes.Push(new Dictionary<string, object?> { ["Kind"] = "FlashSale", ["Name"] = "black-friday" }))
        {
            formatter.Write(new LogEntry<string>(LogLevel.Information, "FlashSale.Operator", new EventId(1), "Reconciled", null, (s, _) => s), scopes, writer);
        }

        var line = writer.ToString().TrimEnd('\n', '\r');
        Assert.DoesNotContain('\n', line);
        using var entry = JsonDocument.Parse(line);
        Assert.Equal("Information", entry.RootElement.GetProperty("LogLevel").GetString());
        Assert.Equal("Reconciled", entry.RootElement.GetProperty("Message").GetString());
        Assert.Matches(@"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$", entry.RootElement.GetProperty("Timestamp").GetString());
        Assert.Contains(entry.RootElement.GetProperty("Scopes").EnumerateArray(), s => s.TryGetProperty("Name", out var name) && name.GetString() == "black-friday");
    }
}
