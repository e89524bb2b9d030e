using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace FlashSale.Messaging;

/// <summary>A queue some <c>AddEventConsumer</c> registration reads (what the readiness check verifies).</summary>
sealed record ConsumedQueue(Func<IServiceProvider, string> Resolve);

/// <summary>
/// Ready when connected to RabbitMQ and the configured sale's exchange and every consumed queue exist (passive declares).
/// A probe on a disconnected process triggers a connection attempt.
/// </summary>
sealed class RabbitMqHealthCheck(
    IRabbitMqConnection rabbit, IOptions<RabbitMqOptions> options, IEnumerable<ConsumedQueue> consumed, IServiceProvider services) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var failure = context.Registration.FailureStatus;
        IConnection connection;
        try
        {
            connection = await rabbit.GetConnectionAsync(cancellationToken);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            return new HealthCheckResult(failure, "RabbitMQ is unreachable", e);
        }
        if (!connection.IsOpen) return new HealthCheckResult(failure, "RabbitMQ connection is recovering");

        var topology = options.Value.GetSaleTopology();
        string[] exchanges = topology is null ? [] : [topology.Exchange];
        var queues = consumed.Select(q => q.Resolve(services)).Distinct().ToArray();
        IReadOnlyList<string> missing;
        try
        {
            missing = await RabbitMqTopology.FindMissingAsync(connection, exchanges, queues, cancellationToken);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            return new HealthCheckResult(failure, "RabbitMQ topology check failed", e);
        }
        return missing.Count == 0
            ? HealthCheckResult.Healthy($"connected; {exchanges.Length} exchange(s) and {queues.Length} queue(s) present")
            : new HealthCheckResult(failure, $"RabbitMQ topology missing: {string.Join(", ", missing)}");
    }
}
