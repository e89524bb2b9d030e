using FlashSale.Messaging;
using FlashSale.Operator.Controller;
using FlashSale.Operator.Kubernetes;
using FlashSale.Operator.Runtime;
using FlashSale.Sales;
using k8s;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace FlashSale.Operator;

/// <summary>
/// The operator process: a .NET host with /metrics, /healthz and /readyz, Lease leader election, and the controller
/// runtime started while this instance leads. Configuration (env or args):
/// ConnectionStrings__Redis, ConnectionStrings__RabbitMq (where stock is preloaded and queues declared),
/// Kubernetes__Host (else KUBECONFIG, ~/.kube/config or in-cluster), Operator__Namespace (watched; all when empty), Operator__Workers,
/// Operator__ResyncPeriod, Operator__LeaderElection__Enabled|LeaseName|LeaseNamespace|Identity|LeaseDuration|RenewDeadline|RetryPeriod|ReleaseOnCancel.
/// </summary>
public static class OperatorHost
{
    public static async Task<int> RunAsync(string[] args)
    {
        var app = Build(args);
        await app.RunAsync();
        return 0;
    }

    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateSlimBuilder(args);
        // One JSON object per line, as the services write them (FlashSale.ServiceDefaults), for one log pipeline.
        builder.Logging.ClearProviders();
        builder.Logging.AddJsonConsole(o =>
        {
            o.IncludeScopes = true;
            o.UseUtcTimestamp = true;
            o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ";
        });
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(20));
        configure?.Invoke(builder);
        var config = builder.Configuration;
        var identity = config["Operator:LeaderElection:Identity"] ?? Environment.GetEnvironmentVariable("POD_NAME") ?? $"{Environment.MachineName}-{Guid.NewGuid():N}";

        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<OperatorMetrics>();
        builder.Services.AddSingleton<IKubernetes>(sp =>
        {
            var host = config["Kubernetes:Host"];
            var configuration = string.IsNullOrEmpty(host)
                ? KubernetesClientConfiguration.BuildDefaultConfig()
                : new KubernetesClientConfiguration { Host = host, AccessToken = config["Kubernetes:Token"], SkipTlsVerify = config.GetValue("Kubernetes:SkipTlsVerify", false) };
            configuration.UserAgent = "flashsale-operator";
            return new k8s.Kubernetes(configuration, new RetryHandler(new RetryOptions(), sp.GetRequiredService<ILogger<RetryHandler>>()));
        });
        builder.Services.AddSingleton<IConnectionMultiplexer>(_ => RedisRegistration.Connect(config, clientName: "flashsale-operator"));
        builder.Services.AddOptions<RabbitMqOptions>().Configure(o =>
        {
            o.ConnectionString = config["ConnectionStrings:RabbitMq"] ?? throw new InvalidOperationException("Configuration value 'ConnectionStrings:RabbitMq' is missing");
            o.ClientName = "flashsale-operator";
        });
        builder.Services.AddSingleton<IRabbitMqConnection, RabbitMqConnection>();
        builder.Services.AddSingleton(sp => new EventRecorder(sp.GetRequiredService<IKubernetes>(), "flashsale.dev/operator", identity, sp.GetRequiredService<ILogger<EventRecorder>>()));
        builder.Services.AddSingleton(_ =>
        {
            var o = new FlashSaleControllerOptions();
            config.GetSection("Operator:Controller").Bind(o);
            return o;
        });
        builder.Services.AddSingleton<FlashSaleController>();
        builder.Services.AddSingleton(_ =>
        {
            var o = new ControllerRuntimeOptions();
            config.GetSection("Operator").Bind(o);
            return o;
        });
        builder.Services.AddSingleton<ControllerRuntime>();
        builder.Services.AddSingleton(sp => new LeaseElectionOptions
        {
            LeaseName = config["Operator:LeaderElection:LeaseName"] ?? "flashsale-operator",
            LeaseNamespace = config["Operator:LeaderElection:LeaseNamespace"] ?? Environment.GetEnvironmentVariable("POD_NAMESPACE") ?? "default",
            Identity = identity,
            LeaseDuration = config.GetValue("Operator:LeaderElection:LeaseDuration", TimeSpan.FromSeconds(15)),
            RenewDeadline = config.GetValue("Operator:LeaderElection:RenewDeadline", TimeSpan.FromSeconds(10)),
            RetryPeriod = config.GetValue("Operator:LeaderElection:RetryPeriod", TimeSpan.FromSeconds(2)),
            ReleaseOnCancel = config.GetValue("Operator:LeaderElection:ReleaseOnCancel", true),
        });
        builder.Services.AddSingleton<OperatorService>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<OperatorService>());

        var app = builder.Build();
        app.MapGet("/metrics", (OperatorMetrics metrics) => Results.Text(metrics.Render(), OperatorMetrics.ContentType));
        app.MapGet("/healthz", () => Results.Text("ok"));
        app.MapGet("/readyz", (OperatorService service) => service.Ready ? Results.Text("ok") : Results.Text("not ready", statusCode: 503));
        return app;
    }
}

/// <summary>Runs for election (unless disabled) and runs the controller runtime only while leading.</summary>
public sealed class OperatorService(
    IKubernetes client,
    ControllerRuntime runtime,
    OperatorMetrics metrics,
    LeaseElectionOptions electionOptions,
    IConfiguration configuration,
    ILogger<OperatorService> logger) : BackgroundService
{
    readonly object _gate = new();
    CancellationTokenSource? _leading;
    Task _leaderWork = Task.CompletedTask;

    public bool IsLeader { get; private set; }

    /// <summary>Ready: a follower (waiting is its job), or a leader whose watches have listed.</summary>
    public bool Ready => !IsLeader || runtime.Synced;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!configuration.GetValue("Operator:LeaderElection:Enabled", true))
        {
            logger.LogInformation("Leader election disabled: reconciling");
            IsLeader = true;
            metrics.Leader(true);
            await runtime.RunAsync(stoppingToken);
            return;
        }

        var election = new LeaseElection(client, electionOptions, logger);
        election.OnStartedLeading += StartLeading;
        election.OnStoppedLeading += StopLeading;
        await election.RunAsync(stoppingToken);
    }

    void StartLeading()
    {
        lock (_gate)
        {
            IsLeader = true;
            metrics.Leader(true);
            _leading = new CancellationTokenSource();
            var token = _leading.Token;
            _leaderWork = Task.Run(() => runtime.RunAsync(token));
        }
    }

    void StopLeading()
    {
        Task work;
        lock (_gate)
        {
            _leading?.Cancel();
            work = _leaderWork;
        }

        // The election frees the lease only after this returns: the next leader never overlaps with our reconciles.
        try
        {
            work.Wait(TimeSpan.FromSeconds(15));
        }
        catch (AggregateException e)
        {
            logger.LogWarning(e, "The controller runtime ended with an error");
        }

        lock (_gate)
        {
            IsLeader = false;
            metrics.Leader(false);
            _leading?.Dispose();
            _leading = null;
        }
    }
}
