using FlashSale.Kubernetes.Fake;
using FlashSale.Messaging;
using FlashSale.Operator.Controller;
using FlashSale.Operator.Entities;
using FlashSale.Operator.Kubernetes;
using FlashSale.Operator.Local;
using FlashSale.Operator.Runtime;
using FlashSale.Sales;
using FlashSale.TestSupport;
using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using RabbitMQ.Client;
using StackExchange.Redis;

namespace FlashSale.Operator.Tests;

/// <summary>
/// One fake API server, a client and a controller per test, over the shared real Redis and RabbitMQ; every sale lives in
/// a namespace of its own (Guid-based), so Redis keys and queues never collide. Disposing removes what the sale left.
/// </summary>
public sealed class Harness : IAsyncDisposable
{
    readonly List<string> _sales = [];

    Harness(FakeKubeApiServer server, IKubernetes client, ConnectionMultiplexer redis, RabbitMqConnection rabbitMq, ManualClock clock)
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

    /// <summary>The official client, with the operator's retries (quick ones, so that tests of failures stay short).</summary>
    public IKubernetes Client { get; }

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
        var server = await FakeKubeApiServer.StartAsync();
        server.RegisterKind<V1Alpha1FlashSale>();
        var client = server.CreateClient(new RetryHandler(new RetryOptions { InitialBackoff = TimeSpan.FromMilliseconds(20), MaxBackoff = TimeSpan.FromMilliseconds(200) }));
        var redis = await ConnectionMultiplexer.ConnectAsync(Infra.Redis);
        var rabbitMq = new RabbitMqConnection(Options.Create(new RabbitMqOptions { ConnectionString = Infra.RabbitMq, ClientName = "operator-tests" }), NullLogger<RabbitMqConnection>.Instance);
        return new Harness(server, client, redis, rabbitMq, new ManualClock());
    }

    /// <summary>examples/flashsale.yaml in this harness's namespace, with the window moved to start in <paramref name="startsIn"/>.</summary>
    public V1Alpha1FlashSale Example(string? name = null, TimeSpan? startsIn = null, TimeSpan? length = null)
    {
        var fs = KubernetesJson.Deserialize<V1Alpha1FlashSale>(ResourceFile.LoadTree(Path.Combine(Infra.RepoRoot, "examples", "flashsale.yaml")));
        fs.Metadata.Name = name ?? "sale-" + Guid.NewGuid().ToString("N")[..6];
        fs.Metadata.NamespaceProperty = Namespace;
        var starts = Clock.GetUtcNow() + (startsIn ?? TimeSpan.FromHours(1));
        fs.Spec!.Schedule.StartsAt = TruncateToSeconds(starts);
        fs.Spec.Schedule.EndsAt = TruncateToSeconds(starts + (length ?? TimeSpan.FromHours(1)));
        return fs;
    }

    public async Task<V1Alpha1FlashSale> CreateAsync(V1Alpha1FlashSale fs)
    {
        _sales.Add(fs.Name());
        return await Client.CustomObjects.CreateNamespacedCustomObjectAsync<V1Alpha1FlashSale>(fs, V1Alpha1FlashSale.Group, V1Alpha1FlashSale.Version, Namespace, V1Alpha1FlashSale.Plural);
    }

    public Task<V1Alpha1FlashSale?> GetAsync(string name) => Client.GetNamespacedAsync<V1Alpha1FlashSale>(Namespace, name);

    /// <summary>Deletes the sale: returns it while its finalizer holds it, null once it is gone (the server answers with a Status).</summary>
    public async Task<V1Alpha1FlashSale?> DeleteAsync(string name)
    {
        var answer = await Client.CustomObjects.DeleteNamespacedCustomObjectAsync<System.Text.Json.JsonElement>(V1Alpha1FlashSale.Group, V1Alpha1FlashSale.Version, Namespace, V1Alpha1FlashSale.Plural, name);
        return answer.GetProperty("kind").GetString() == "Status" ? null : KubernetesJson.Deserialize<V1Alpha1FlashSale>(answer);
    }

    /// <summary>The Prometheus Operator's kind, for tests that make the fake serve it.</summary>
    public static readonly ApiResource ServiceMonitors =
        ApiResource.NamespacedKind(Children.ServiceMonitorGroup, Children.ServiceMonitorVersion, "ServiceMonitor", Children.ServiceMonitorPlural);

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

    static DateTimeOffset TruncateToSeconds(DateTimeOffset t) => new(t.Ticks - (t.Ticks % TimeSpan.TicksPerSecond), TimeSpan.Zero);

    public async ValueTask DisposeAsync()
    {
        foreach (var sale in _sales)
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
    DateTimeOffset _now;
    bool _frozen;

    public override DateTimeOffset GetUtcNow() => _frozen ? _now : DateTimeOffset.UtcNow;

    public void Set(DateTimeOffset value)
    {
        _now = value;
        _frozen = true;
    }
}
