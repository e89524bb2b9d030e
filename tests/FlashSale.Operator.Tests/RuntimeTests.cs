using System.Diagnostics;
using FlashSale.Operator.Entities;
using FlashSale.Operator.Kubernetes;
using FlashSale.Operator.Runtime;
using FlashSale.TestSupport;
using k8s;
using k8s.Models;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace FlashSale.Operator.Tests;

public class RuntimeTests
{
    [Fact]
    public async Task TheScheduleMovesTheSaleFromScheduledToLiveToEndedWithoutAnyChange()
    {
        await using var h = await Harness.StartAsync();
        var runtime = new ControllerRuntime(h.Client, h.Controller, h.Metrics, new ControllerRuntimeOptions { Namespace = h.Namespace }, NullLogger<ControllerRuntime>.Instance);
        using var stop = new CancellationTokenSource();
        var running = runtime.RunAsync(stop.Token);
        var fs = await h.CreateAsync(h.Example(startsIn: TimeSpan.FromSeconds(8), length: TimeSpan.FromSeconds(4)));
        await WaitForAsync(() => h.Server.List<V1Deployment>(h.Namespace).Count == 4, "the Deployments");
        h.MarkDeploymentsAvailable(fs.Name());

        var phases = new List<(string Phase, DateTimeOffset At)>();
        var deadline = fs.Spec!.Schedule.EndsAt.AddSeconds(5);
        while (DateTimeOffset.UtcNow < deadline && phases.LastOrDefault().Phase != "Ended")
        {
            var phase = h.Server.Get<V1Alpha1FlashSale>(h.Namespace, fs.Name())!.Status?.Phase;
            if (phase is not null && phase != phases.LastOrDefault().Phase)
            {
                phases.Add((phase, DateTimeOffset.UtcNow));
            }

            await Task.Delay(50);
        }

        stop.Cancel();
        await running;
        Assert.Equal(["Scheduled", "Live", "Ended"], phases.Select(p => p.Phase).SkipWhile(p => p == "Provisioning"));
        var live = phases.Single(p => p.Phase == "Live").At;
        var ended = phases.Single(p => p.Phase == "Ended").At;
        Assert.InRange(live, fs.Spec.Schedule.StartsAt, fs.Spec.Schedule.StartsAt.AddSeconds(3));
        Assert.InRange(ended, fs.Spec.Schedule.EndsAt, fs.Spec.Schedule.EndsAt.AddSeconds(3));
    }

    [Fact]
    public async Task TheRuntimeRecreatesADeletedChildFromItsWatch()
    {
        await using var h = await Harness.StartAsync();
        var runtime = new ControllerRuntime(h.Client, h.Controller, h.Metrics, new ControllerRuntimeOptions { Namespace = h.Namespace }, NullLogger<ControllerRuntime>.Instance);
        using var stop = new CancellationTokenSource();
        var running = runtime.RunAsync(stop.Token);
        var fs = await h.CreateAsync(h.Example());
        var name = $"{fs.Name()}-stock";
        await WaitForAsync(() => h.Server.Get<V1Service>(h.Namespace, name) is not null, "the Service");
        var uid = h.Server.Get<V1Service>(h.Namespace, name)!.Uid();

        await h.Client.CoreV1.DeleteNamespacedServiceAsync(name, h.Namespace);

        await WaitForAsync(() => h.Server.Get<V1Service>(h.Namespace, name) is { } s && s.Uid() != uid, "the Service to come back");
        stop.Cancel();
        await running;
    }

    [Fact]
    public async Task OnlyTheLeaderReconcilesAndTheOtherTakesOverWhenItStops()
    {
        await using var h = await Harness.StartAsync();
        var first = StartOperatorHost(h, "first");
        var second = StartOperatorHost(h, "second");
        await first.StartAsync();
        await second.StartAsync();
        try
        {
            await WaitForAsync(() => h.Server.Get<V1Lease>("default", "flashsale-operator")?.Spec?.HolderIdentity is not null, "a leader");
            var leaderName = h.Server.Get<V1Lease>("default", "flashsale-operator")!.Spec!.HolderIdentity;
            var (leader, follower) = leaderName == "first" ? (first, second) : (second, first);

            var one = await h.CreateAsync(h.Example());
            await WaitForAsync(() => h.Server.Get<V1Alpha1FlashSale>(h.Namespace, one.Name())?.Status?.Phase is not null && Reconciles(leader) > 0, "the leader to reconcile");
            Assert.Equal(0, Reconciles(follower));

            await leader.StopAsync();
            await WaitForAsync(() => h.Server.Get<V1Lease>("default", "flashsale-operator")?.Spec?.HolderIdentity is { Length: > 0 } holder && holder != leaderName, "the other to take over");
            var two = await h.CreateAsync(h.Example());
            await WaitForAsync(() => h.Server.Get<V1Alpha1FlashSale>(h.Namespace, two.Name())?.Status?.Phase is not null && Reconciles(follower) > 0, "the new leader to reconcile");
        }
        finally
        {
            await first.DisposeAsync();
            await second.DisposeAsync();
        }
    }

    [Fact]
    public async Task WhenTheLeaderDiesWithoutReleasingTheLeaseTheOtherTakesOverOnceItExpires()
    {
        await using var h = await Harness.StartAsync();
        var first = StartOperatorHost(h, "first", releaseOnCancel: false);
        await first.StartAsync();
        await WaitForAsync(() => h.Server.Get<V1Lease>("default", "flashsale-operator")?.Spec?.HolderIdentity == "first", "the first to lead");
        var second = StartOperatorHost(h, "second", releaseOnCancel: false);
        await second.StartAsync();
        try
        {
            await first.StopAsync();
            var died = DateTimeOffset.UtcNow;
            Assert.Equal("first", h.Server.Get<V1Lease>("default", "flashsale-operator")!.Spec!.HolderIdentity);

            await WaitForAsync(() => h.Server.Get<V1Lease>("default", "flashsale-operator")?.Spec?.HolderIdentity == "second", "the second to take over");
            Assert.True(DateTimeOffset.UtcNow - died >= TimeSpan.FromSeconds(1), "took over before the lease could expire");
            var fs = await h.CreateAsync(h.Example());
            await WaitForAsync(() => h.Server.Get<V1Alpha1FlashSale>(h.Namespace, fs.Name())?.Status?.Phase is not null && Reconciles(second) > 0, "the new leader to reconcile");
            Assert.Equal(0, Reconciles(first));
        }
        finally
        {
            await first.DisposeAsync();
            await second.DisposeAsync();
        }
    }

    [Fact]
    public async Task TheMetricsEndpointServesControllerRuntimeNamesThatPromtoolAccepts()
    {
        await using var h = await Harness.StartAsync();
        var app = StartOperatorHost(h, "metrics", leaderElection: false);
        await app.StartAsync();
        try
        {
            var fs = await h.CreateAsync(h.Example());
            await WaitForAsync(() => h.Server.Get<V1Alpha1FlashSale>(h.Namespace, fs.Name())?.Status?.Phase is not null, "a reconcile");
            using var http = new HttpClient { BaseAddress = new Uri(app.Urls.First()) };
            Assert.Equal("ok", await http.GetStringAsync("/healthz"));
            await WaitForAsync(async () => (await http.GetAsync("/readyz")).IsSuccessStatusCode, "/readyz");
            var text = await http.GetStringAsync("/metrics");

            foreach (var name in new[] { "controller_runtime_reconcile_total{controller=\"flashsale\"", "controller_runtime_reconcile_errors_total", "controller_runtime_reconcile_time_seconds_bucket", "workqueue_depth", "workqueue_adds_total", "workqueue_retries_total" })
            {
                Assert.Contains(name, text);
            }

            var psi = new ProcessStartInfo("promtool", "check metrics") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
            using var promtool = Process.Start(psi)!;
            await promtool.StandardInput.WriteAsync(text);
            promtool.StandardInput.Close();
            var problems = await promtool.StandardError.ReadToEndAsync() + await promtool.StandardOutput.ReadToEndAsync();
            await promtool.WaitForExitAsync();
            Assert.True(promtool.ExitCode == 0, problems);
        }
        finally
        {
            await app.DisposeAsync();
        }
    }

    internal static WebApplication StartOperatorHost(Harness h, string identity, bool leaderElection = true, bool releaseOnCancel = true) =>
        OperatorHost.Build(
            [
                "--urls=http://127.0.0.1:0",
                $"--Kubernetes:Host={h.Server.BaseAddress}",
                $"--ConnectionStrings:Redis={Infra.Redis}",
                $"--ConnectionStrings:RabbitMq={Infra.RabbitMq}",
                $"--Operator:Namespace={h.Namespace}",
                $"--Operator:LeaderElection:Enabled={leaderElection}",
                $"--Operator:LeaderElection:Identity={identity}",
                "--Operator:LeaderElection:LeaseNamespace=default",
                "--Operator:LeaderElection:LeaseDuration=00:00:03",
                "--Operator:LeaderElection:RenewDeadline=00:00:02",
                "--Operator:LeaderElection:RetryPeriod=00:00:00.500",
                $"--Operator:LeaderElection:ReleaseOnCancel={releaseOnCancel}",
            ],
            builder => builder.Logging.ClearProviders());

    static long Reconciles(WebApplication app)
    {
        var metrics = app.Services.GetRequiredService<OperatorMetrics>();
        return new[] { "success", "error", "requeue_after" }.Sum(r => metrics.ReconcileCount(ControllerRuntime.ControllerName, r));
    }

    internal static Task WaitForAsync(Func<bool> condition, string what, int seconds = 20) =>
        WaitForAsync(() => Task.FromResult(condition()), what, seconds);

    internal static Task WaitForAsync(Func<Task<bool>> condition, string what, int seconds = 20) =>
        Eventually.UntilAsync(condition, what, TimeSpan.FromSeconds(seconds), TimeSpan.FromMilliseconds(50));
}
