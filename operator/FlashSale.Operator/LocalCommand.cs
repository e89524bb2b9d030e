using FlashSale.Messaging;
using FlashSale.Sales;
using RabbitMQ.Client;
using StackExchange.Redis;

namespace FlashSale.Operator;

/// <summary>
/// <c>FlashSale.Operator local --file sale.yaml [--redis host:port] [--rabbitmq amqp://...]</c>: the part of a reconcile that
/// lies outside Kubernetes, for local runs: validate the sale file, preload its stock into Redis, declare its RabbitMQ
/// topology (both idempotent), print a summary. Connection strings: the options, else ConnectionStrings__Redis /
/// ConnectionStrings__RabbitMq, else the local servers of scripts/infra.sh. Exit codes: 0 done, 2 invalid sale, 1 failure.
/// </summary>
public static class LocalCommand
{
    public const string DefaultRedis = "127.0.0.1:63790";
    public const string DefaultRabbitMq = "amqp://guest:guest@127.0.0.1:56720/";

    public static async Task<int> RunAsync(IReadOnlyList<string> args, TextWriter output, TextWriter error, CancellationToken cancellationToken = default)
    {
        string? file = null;
        var redis = Environment.GetEnvironmentVariable("ConnectionStrings__Redis") ?? DefaultRedis;
        var rabbitMq = Environment.GetEnvironmentVariable("ConnectionStrings__RabbitMq") ?? DefaultRabbitMq;
        for (var i = 0; i < args.Count; i++)
        {
            var value = i + 1 < args.Count ? args[i + 1] : null;
            switch (args[i])
            {
                case "--file" or "-f" when value is not null: file = value; i++; break;
                case "--redis" when value is not null: redis = value; i++; break;
                case "--rabbitmq" when value is not null: rabbitMq = value; i++; break;
                default:
                    error.WriteLine($"unknown argument '{args[i]}'");
                    error.WriteLine("usage: FlashSale.Operator local --file <sale.yaml> [--redis <host:port>] [--rabbitmq <amqp-uri>]");
                    return 2;
            }
        }

        if (file is null)
        {
            error.WriteLine("usage: FlashSale.Operator local --file <sale.yaml> [--redis <host:port>] [--rabbitmq <amqp-uri>]");
            return 2;
        }

        SaleDefinition sale;
        try
        {
            sale = SaleFile.Load(file);
        }
        catch (SaleFileException e)
        {
            error.WriteLine($"{file} is invalid:");
            foreach (var message in e.Errors)
            {
                error.WriteLine($"  - {message}");
            }

            return 2;
        }
        catch (IOException e)
        {
            error.WriteLine($"cannot read {file}: {e.Message}");
            return 2;
        }

        try
        {
            var options = ConfigurationOptions.Parse(redis);
            options.AbortOnConnectFail = true;
            await using var multiplexer = await ConnectionMultiplexer.ConnectAsync(options);
            var stock = await new SaleStore(multiplexer).PreloadAsync(sale);

            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(60));
            var factory = new ConnectionFactory { Uri = new Uri(rabbitMq), ClientProvidedName = "flashsale-operator-local", RequestedConnectionTimeout = TimeSpan.FromSeconds(10) };
            await using var connection = await factory.CreateConnectionAsync(timeout.Token);
            var topology = new SaleTopology(sale.Namespace, sale.Name);
            await topology.DeclareAsync(connection, sale.PaymentTimeout, timeout.Token);

            output.WriteLine($"sale {sale.Id}: {sale.StartsAt:u} -> {sale.EndsAt:u}, payment timeout {Durations.Format(sale.PaymentTimeout)}");
            output.WriteLine($"redis {redis}: stock preloaded");
            output.WriteLine($"  {"SKU",-24} {"STOCK",8} {"REMAINING",10} {"SOLD",8}");
            foreach (var p in stock)
            {
                output.WriteLine($"  {p.Sku,-24} {p.Initial,8} {p.Remaining,10} {p.Sold,8}");
            }

            output.WriteLine($"rabbitmq {new Uri(rabbitMq).Host}:{new Uri(rabbitMq).Port}: exchange {topology.Exchange} and queues declared");
            foreach (var queue in topology.Queues)
            {
                output.WriteLine($"  {queue}");
            }

            return 0;
        }
        catch (StockBelowSoldException e)
        {
            error.WriteLine(e.Message);
            return 2;
        }
        catch (Exception e) when (e is RedisException or RabbitMQ.Client.Exceptions.BrokerUnreachableException or TopologyConflictException or TimeoutException
            or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            error.WriteLine($"provisioning {sale.Id} failed: {e.Message}");
            return 1;
        }
    }
}
