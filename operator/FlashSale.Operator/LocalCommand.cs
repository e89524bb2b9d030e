using System.Text;
using System.Text.Json.Nodes;
using FlashSale.Messaging;
using FlashSale.Operator.Controller;
using FlashSale.Operator.Local;
using FlashSale.Sales;
using RabbitMQ.Client;
using StackExchange.Redis;

namespace FlashSale.Operator;

/// <summary>
/// <c>FlashSale.Operator local --file sale.yaml</c>: the part of a reconcile that lies outside Kubernetes, for local runs:
/// validate the sale, preload its stock into Redis, declare its RabbitMQ topology (both idempotent), print a summary.
/// With <c>--out DIR</c> it also renders the sale's Deployments as local processes (<see cref="LocalPlatform"/>): the
/// resource as applied (<c>DIR/flashsale.json</c>), each service's environment (<c>DIR/env/&lt;service&gt;.env</c>,
/// NUL-separated KEY=VALUE) and address (<c>DIR/env/&lt;service&gt;.url</c>). Connection strings: the options, else
/// ConnectionStrings__Redis / ConnectionStrings__RabbitMq, else the local servers of scripts/infra.sh.
/// Exit codes: 0 done, 2 invalid sale or arguments, 1 failure.
/// </summary>
public static class LocalCommand
{
    public const string DefaultRedis = "127.0.0.1:63790";
    public const string DefaultRabbitMq = "amqp://guest:guest@127.0.0.1:56720/";

    const string Usage = """
        usage: FlashSale.Operator local --file <sale.yaml> [--redis <host:port>] [--rabbitmq <amqp-uri>]
                 [--name NAME] [--starts-in 15s] [--ends-in 10m] [--payment-timeout 30s] [--env <service>:KEY=VALUE]...
                 [--out DIR [--secrets .run/secrets] [--ports users=5101,orders=5102,stock=5103,notifications=5104]]
        """;

    sealed class Options
    {
        public string? File;
        public string Redis = Environment.GetEnvironmentVariable("ConnectionStrings__Redis") ?? DefaultRedis;
        public string RabbitMq = Environment.GetEnvironmentVariable("ConnectionStrings__RabbitMq") ?? DefaultRabbitMq;
        public string? Name, Out;
        public string Secrets = Path.Combine(".run", "secrets");
        public TimeSpan? StartsIn, EndsIn;
        public string? PaymentTimeout;
        public readonly List<(string Service, string Name, string Value)> Env = [];
        public readonly Dictionary<string, int> Ports = new(LocalPlatform.DefaultPorts);
    }

    public static async Task<int> RunAsync(IReadOnlyList<string> args, TextWriter output, TextWriter error, CancellationToken cancellationToken = default)
    {
        Options o;
        try
        {
            o = Parse(args);
        }
        catch (FormatException e)
        {
            error.WriteLine(e.Message);
            error.WriteLine(Usage);
            return 2;
        }

        SaleDefinition sale;
        Entities.V1Alpha1FlashSale? resource = null;
        try
        {
            if (o.Out is null)
            {
                // Preloading needs only the sale's own fields: a sale file without image or infrastructure will do.
                var tree = ResourceFile.LoadTree(o.File!);
                ApplyOverrides(tree, o);
                sale = SaleFile.Parse(tree.ToJsonString(), o.File!);
            }
            else
            {
                (resource, sale) = ResourceFile.LoadSale(o.File!, tree => ApplyOverrides(tree, o));
            }
        }
        catch (SaleFileException e)
        {
            return ResourceFile.Refuse(error, o.File!, e.Errors);
        }
        catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException)
        {
            error.WriteLine($"cannot read {o.File}: {e.Message}");
            return 2;
        }

        if (resource is not null)
        {
            try
            {
                WriteProcesses(resource, sale, o, output);
            }
            catch (Exception e) when (e is LocalPlatformException or FormatException)
            {
                error.WriteLine($"the services of {sale.Id} cannot start locally:");
                foreach (var message in e is LocalPlatformException local ? local.Errors : [e.Message])
                {
                    error.WriteLine($"  - {message}");
                }

                return 2;
            }
        }

        try
        {
            var options = ConfigurationOptions.Parse(o.Redis);
            options.AbortOnConnectFail = true;
            await using var multiplexer = await ConnectionMultiplexer.ConnectAsync(options);
            var stock = await new SaleStore(multiplexer).PreloadAsync(sale);

            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(60));
            var factory = new ConnectionFactory { Uri = new Uri(o.RabbitMq), ClientProvidedName = "flashsale-operator-local", RequestedConnectionTimeout = TimeSpan.FromSeconds(10) };
            await using var connection = await factory.CreateConnectionAsync(timeout.Token);
            var topology = new SaleTopology(sale.Namespace, sale.Name);
            await topology.DeclareAsync(connection, sale.PaymentTimeout, timeout.Token);

            output.WriteLine($"sale {sale.Id}: {sale.StartsAt:u} -> {sale.EndsAt:u}, payment timeout {Durations.Format(sale.PaymentTimeout)}");
            output.WriteLine($"redis {o.Redis}: stock preloaded");
            output.WriteLine($"  {"SKU",-24} {"STOCK",8} {"REMAINING",10} {"SOLD",8}");
            foreach (var p in stock)
            {
                output.WriteLine($"  {p.Sku,-24} {p.Initial,8} {p.Remaining,10} {p.Sold,8}");
            }

            output.WriteLine($"rabbitmq {new Uri(o.RabbitMq).Host}:{new Uri(o.RabbitMq).Port}: exchange {topology.Exchange} and queues declared");
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

    static Options Parse(IReadOnlyList<string> args)
    {
        var o = new Options();
        for (var i = 0; i < args.Count; i++)
        {
            var value = i + 1 < args.Count ? args[i + 1] : throw new FormatException($"{args[i]} needs a value");
            i++;
            switch (args[i - 1])
            {
                case "--file" or "-f": o.File = value; break;
                case "--redis": o.Redis = value; break;
                case "--rabbitmq": o.RabbitMq = value; break;
                case "--name": o.Name = value; break;
                case "--out": o.Out = value; break;
                case "--secrets": o.Secrets = value; break;
                case "--starts-in": o.StartsIn = Durations.Parse(value); break;
                case "--ends-in": o.EndsIn = Durations.Parse(value); break;
                case "--payment-timeout": Durations.Parse(value); o.PaymentTimeout = value; break;
                case "--env":
                    var colon = value.IndexOf(':');
                    var equals = value.IndexOf('=');
                    if (colon < 1 || equals < colon + 2 || SaleService.All.All(s => s.Name != value[..colon]))
                    {
                        throw new FormatException($"--env '{value}' must be <service>:KEY=VALUE with service one of {string.Join(", ", SaleService.All.Select(s => s.Name))}");
                    }

                    o.Env.Add((value[..colon], value[(colon + 1)..equals], value[(equals + 1)..]));
                    break;
                case "--ports":
                    foreach (var pair in value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                    {
                        var parts = pair.Split('=');
                        if (parts.Length != 2 || !o.Ports.ContainsKey(parts[0]) || !int.TryParse(parts[1], out var port) || port is < 1 or > 65535)
                        {
                            throw new FormatException($"--ports '{pair}' must be <service>=<port>");
                        }

                        o.Ports[parts[0]] = port;
                    }

                    break;
                default: throw new FormatException($"unknown argument '{args[i - 1]}'");
            }
        }

        return o.File is null ? throw new FormatException("--file is required") : o;
    }

    /// <summary>What a shop would change before `kubectl apply` of the same file for a sale that opens now.</summary>
    static void ApplyOverrides(JsonObject tree, Options o)
    {
        var metadata = tree["metadata"] as JsonObject ?? (JsonObject)(tree["metadata"] = new JsonObject());
        var spec = tree["spec"] as JsonObject ?? (JsonObject)(tree["spec"] = new JsonObject());
        if (o.Name is not null)
        {
            metadata["name"] = o.Name;
        }

        var now = DateTimeOffset.UtcNow;
        var schedule = spec["schedule"] as JsonObject ?? (JsonObject)(spec["schedule"] = new JsonObject());
        if (o.StartsIn is { } startsIn)
        {
            schedule["startsAt"] = (now + startsIn).UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ");
        }

        if (o.EndsIn is { } endsIn)
        {
            schedule["endsAt"] = (now + endsIn).UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ");
        }

        if (o.PaymentTimeout is not null)
        {
            spec["paymentTimeout"] = o.PaymentTimeout;
        }

        foreach (var (service, name, value) in o.Env)
        {
            var services = spec["services"] as JsonObject ?? (JsonObject)(spec["services"] = new JsonObject());
            var s = services[service] as JsonObject ?? (JsonObject)(services[service] = new JsonObject());
            var env = s["env"] as JsonArray ?? (JsonArray)(s["env"] = new JsonArray());
            env.Add(new JsonObject { ["name"] = name, ["value"] = value });
        }
    }

    static void WriteProcesses(Entities.V1Alpha1FlashSale fs, SaleDefinition sale, Options o, TextWriter output)
    {
        var outDir = Path.GetFullPath(o.Out!);
        var envDir = Path.Combine(outDir, "env");
        Directory.CreateDirectory(envDir);
        var processes = LocalPlatform.Render(fs, sale, Path.GetFullPath(o.Secrets), Path.Combine(outDir, "config"), o.Ports);
        File.WriteAllText(Path.Combine(outDir, "flashsale.json"), ResourceFile.ToJson(fs));
        foreach (var process in processes)
        {
            var text = new StringBuilder();
            foreach (var (key, value) in process.Environment)
            {
                text.Append(key).Append('=').Append(value).Append('\0');
            }

            var envFile = Path.Combine(envDir, process.Service + ".env");
            File.WriteAllText(envFile, text.ToString());
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(envFile, UnixFileMode.UserRead | UnixFileMode.UserWrite); // it holds the secrets' values
            }
            File.WriteAllText(Path.Combine(envDir, process.Service + ".url"), process.Url);
        }

        output.WriteLine($"rendered {string.Join(", ", processes.Select(p => $"{p.Service} ({p.Url})"))} from the operator's Deployments into {envDir}");
    }
}
