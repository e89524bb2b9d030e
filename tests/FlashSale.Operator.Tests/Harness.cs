using System.Text.Json;
using System.Text.Json.Nodes;
using FlashSale.Kubernetes;
using FlashSale.Kubernetes.Fake;
using FlashSale.Kubernetes.Models;
using FlashSale.Messaging;
using FlashSale.Operator.Controller;
using FlashSale.Operator.Entities;
using FlashSale.Operator.Runtime;
using FlashSale.Sales;
using FlashSale.TestSupport;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using RabbitMQ.Client;
using StackExchange.Redis;
using YamlDotNet.Serialization;

namespace FlashSale.Operator.Tests;

/// <summary>
/// One fake API server, a client and a controller per test, over the shared real Redis and RabbitMQ; every sale lives in
/// a namespace of its own (Guid-based), so Redis keys and queues never collide. Disposing removes what the sale left.
/// </summary>
public sealed class Harness : IAsyncDisposable
{
    private readonly List<string> sales = [];

    private Harness(FakeKubeApiServer server, KubernetesClient client, ConnectionMultiplexer redis, RabbitMqConnection rabbitMq, ManualClock clock)
    {
        Server = server;
        Client = client;
        Redis = redis;
        RabbitMq = rabbitMq;
        Clock = clock;
        Metrics = new OperatorMetrics();
        Events = new EventRecorder(client, "flashsale.dev/operator", "test", NullLogger<EventRecorder>.Instance);
        Controller = new FlashSaleController(client, redis, rabbitMq, Events, new FlashSaleControllerOptions { CrdCacheDuration = TimeSpan.Zero }, NullLogger<FlashSaleController>.Instance, clock);
    }

    public string Namespace { get; } = "t" + Guid.NewGuid().ToString("N")[..12];

    public FakeKubeApiServer Server { get; }

    public KubernetesClient Client { get; }

    public ConnectionMultiplexer Redis { get; }

    public RabbitMqConnection RabbitMq { get; }

    public ManualClock Clock { get; }

    public OperatorMetrics Metrics { get; }

    public EventRecorder Events { get; }

    public FlashSaleController Controller { get; }

    public SaleStore Store => new(Redis);

    public static async Task<Harness> StartAsync()
    {
        await Infra.RequireAsync(postgres: false);
        var serverOptions = new FakeKubeApiServerOptions();
        serverOptions.TypeInfoResolvers.Add(OperatorJsonContext.Default);
        var server = await FakeKubeApiServer.StartAsync(serverOptions);
        server.RegisterKind<V1Alpha1FlashSale>();
        var client = server.CreateClient(ClientOptions());
        var redis = await ConnectionMultiplexer.ConnectAsync(Infra.Redis);
        var rabbitMq = new RabbitMqConnection(Options.Create(new RabbitMqOptions { ConnectionString = Infra.RabbitMq, ClientName = "operator-tests" }), NullLogger<RabbitMqConnection>.Instance);
        return new Harness(server, client, redis, rabbitMq, new ManualClock());
    }

    public static KubernetesClientOptions ClientOptions()
    {
        var options = new KubernetesClientOptions();
        options.TypeInfoResolvers.Add(OperatorJsonContext.Default);
        return options;
    }

    /// <summary>examples/flashsale.yaml in this harness's namespace, with the window moved to start in <paramref name="startsIn"/>.</summary>
    public V1Alpha1FlashSale Example(string? name = null, TimeSpan? startsIn = null, TimeSpan? length = null)
    {
        var yaml = File.ReadAllText(Path.Combine(Infra.RepoRoot, "examples", "flashsale.yaml"));
        var fs = FromYaml(yaml);
        fs.Metadata.Name = name ?? "sale-" + Guid.NewGuid().ToString("N")[..6];
        fs.Metadata.NamespaceProperty = Namespace;
        var starts = Clock.GetUtcNow() + (startsIn ?? TimeSpan.FromHours(1));
        fs.Spec!.Schedule.StartsAt = TruncateToSeconds(starts);
        fs.Spec.Schedule.EndsAt = TruncateToSeconds(starts + (length ?? TimeSpan.FromHours(1)));
        return fs;
    }

    public async Task<V1Alpha1FlashSale> CreateAsync(V1Alpha1FlashSale fs)
    {
        sales.Add(fs.Name());
        return await Client.CreateAsync(fs);
    }

    public Task<V1Alpha1FlashSale?> GetAsync(string name) => Client.GetAsync<V1Alpha1FlashSale>(Namespace, name);

    /// <summary>Reads the sale again and reconciles it, as a worker would.</summary>
    public async Task<ReconcileResult> ReconcileAsync(string name)
    {
        var fs = await GetAsync(name) ?? throw new InvalidOperationException($"{name} does not exist");
        return await Controller.ReconcileAsync(fs, CancellationToken.None);
    }

    /// <summary>What the Deployment controller would write once the pods are up.</summary>
    public void MarkDeploymentsAvailable(string sale)
    {
        foreach (var service in SaleService.All)
        {
            var name = $"{sale}-{service.Name}";
            var deployment = Server.Get<V1Deployment>(Namespace, name)!;
            Server.SetStatus<V1Deployment>(Namespace, name, new V1DeploymentStatus
            {
                ObservedGeneration = deployment.Metadata.Generation,
                Replicas = 1,
                ReadyReplicas = 1,
                AvailableReplicas = 1,
                UpdatedReplicas = 1,
                Conditions = [new V1DeploymentCondition { Type = "Available", Status = "True", Reason = "MinimumReplicasAvailable" }],
            });
        }
    }

    public async Task<bool> TopologyExistsAsync(string sale) =>
        await new SaleTopology(Namespace, sale).ExistsAsync(await RabbitMq.GetConnectionAsync());

    public async Task<bool> AnyTopologyLeftAsync(string sale) =>
        (await new SaleTopology(Namespace, sale).FindMissingAsync(await RabbitMq.GetConnectionAsync())).Count < new SaleTopology(Namespace, sale).Queues.Count + 2;

    public static V1Alpha1FlashSale FromYaml(string yaml)
    {
        var value = new DeserializerBuilder().WithAttemptingUnquotedStringTypeDeserialization().Build().Deserialize<object>(yaml);
        return ToNode(value)!.Deserialize(Harness.ClientOptionsJson.GetTypeInfo(typeof(V1Alpha1FlashSale))) as V1Alpha1FlashSale
            ?? throw new InvalidOperationException("not a FlashSale");
    }

    private static readonly JsonSerializerOptions ClientOptionsJson = KubernetesJson.CreateOptions(OperatorJsonContext.Default);

    private static JsonNode? ToNode(object? value) => value switch
    {
        null => null,
        Dictionary<object, object?> map => new JsonObject(map.Select(kv => KeyValuePair.Create(kv.Key.ToString()!, ToNode(kv.Value)))),
        List<object?> list => new JsonArray([.. list.Select(ToNode)]),
        string s => JsonValue.Create(s),
        bool b => JsonValue.Create(b),
        int i => JsonValue.Create(i),
        long l => JsonValue.Create(l),
        double d => JsonValue.Create(d),
        decimal m => JsonValue.Create(m),
        _ => JsonValue.Create(value.ToString()),
    };

    private static DateTimeOffset TruncateToSeconds(DateTimeOffset t) => new(t.Ticks - (t.Ticks % TimeSpan.TicksPerSecond), TimeSpan.Zero);

    public async ValueTask DisposeAsync()
    {
        foreach (var sale in sales)
        {
            try
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                await Store.DeleteAsync(new SaleKeys(Namespace, sale)).WaitAsync(timeout.Token);
                await new SaleTopology(Namespace, sale).DeleteAsync(await RabbitMq.GetConnectionAsync(timeout.Token), timeout.Token).WaitAsync(timeout.Token);
            }
            catch (Exception)
            {
                // Best effort: the names are unique to this test.
            }
        }

        Client.Dispose();
        await Server.DisposeAsync();
        try
        {
            await RabbitMq.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (TimeoutException)
        {
            // A broker that went away mid-test: leave the connection to the garbage collector.
        }

        await Redis.DisposeAsync();
    }
}

/// <summary>A clock the test moves (the schedule tests jump across boundaries); starts at the real time.</summary>
public sealed class ManualClock : TimeProvider
{
    private DateTimeOffset now;
    private bool frozen;

    public override DateTimeOffset GetUtcNow() => frozen ? now : DateTimeOffset.UtcNow;

    public void Set(DateTimeOffset value)
    {
        now = value;
        frozen = true;
    }
}
