using System.Collections.Concurrent;
using System.Diagnostics;
using FlashSale.Kubernetes.Fake;
using FlashSale.Kubernetes.LeaderElection;
using FlashSale.Kubernetes.Models;

namespace FlashSale.Kubernetes.Tests;

[CollectionDefinition(nameof(TimingSensitive), DisableParallelization = true)]
public sealed class TimingSensitive;

/// <summary>Lease timings shortened to 2 s / 1.5 s / 0.25 s (controller-runtime's are 15 s / 10 s / 2 s).</summary>
[Collection(nameof(TimingSensitive))]
public sealed class LeaderElectionTests : FakeApiServerTest
{
    private static readonly TimeSpan LeaseDuration = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan RenewDeadline = TimeSpan.FromSeconds(1.5);
    private static readonly TimeSpan RetryPeriod = TimeSpan.FromMilliseconds(250);
    private readonly ConcurrentQueue<string> log = new();

    [Fact]
    public async Task TwoCandidatesNeverLeadAtTheSameTime()
    {
        var a = Candidate("a");
        var b = Candidate("b");
        using var stop = new CancellationTokenSource();
        var runs = new[] { a.RunAndTryToHoldLeadershipForeverAsync(stop.Token), b.RunAndTryToHoldLeadershipForeverAsync(stop.Token) };

        var watch = Stopwatch.StartNew();
        var sawLeader = false;
        while (watch.Elapsed < TimeSpan.FromSeconds(4))
        {
            var leaders = (a.IsLeader ? 1 : 0) + (b.IsLeader ? 1 : 0);
            Assert.True(leaders <= 1, "two candidates led at the same time");
            sawLeader |= leaders == 1;
            await Task.Delay(5);
        }

        Assert.True(sawLeader, "nobody became leader");
        var leader = a.IsLeader ? a : b;
        Assert.Equal(leader.Identity, fake.Get<V1Lease>(TestKit.Ns, "flashsale-operator")!.Spec!.HolderIdentity);
        Assert.Equal([$"{leader.Identity} started"], log);

        await stop.CancelAsync();
        await Task.WhenAll(runs);
    }

    [Fact]
    public async Task TheFollowerTakesOverWithinTheLeaseDurationAfterTheLeaderStopsRenewing()
    {
        var a = Candidate("a", releaseOnCancel: false);
        var b = Candidate("b");
        using var stopA = new CancellationTokenSource();
        using var stopB = new CancellationTokenSource();
        var runA = a.RunUntilLeadershipLostAsync(stopA.Token);
        await TestKit.WaitUntilAsync(() => a.IsLeader, "a leads");
        var runB = b.RunUntilLeadershipLostAsync(stopB.Token);
        await Task.Delay(LeaseDuration + LeaseDuration);
        Assert.False(b.IsLeader, "b took the lease while a was renewing it");

        // a stops renewing as a crashed process would: without releasing the lease.
        await stopA.CancelAsync();
        await runA;
        var stoppedAt = Stopwatch.StartNew();
        await TestKit.WaitUntilAsync(() => b.IsLeader, "b leads", LeaseDuration * 3);
        var takeover = stoppedAt.Elapsed;

        Assert.InRange(takeover, LeaseDuration - RetryPeriod - TimeSpan.FromMilliseconds(300), LeaseDuration + (RetryPeriod * 2) + TimeSpan.FromMilliseconds(500));
        var lease = fake.Get<V1Lease>(TestKit.Ns, "flashsale-operator")!;
        Assert.Equal("b", lease.Spec!.HolderIdentity);
        Assert.Equal(1, lease.Spec.LeaseTransitions);
        Assert.Equal(2, lease.Spec.LeaseDurationSeconds);

        await stopB.CancelAsync();
        await runB;
    }

    [Fact]
    public async Task AReleasedLeaseIsTakenOverAtOnceAndOnlyAfterTheOldLeaderStopped()
    {
        var a = Candidate("a");
        var b = Candidate("b");
        using var stopA = new CancellationTokenSource();
        using var stopB = new CancellationTokenSource();
        var runA = a.RunUntilLeadershipLostAsync(stopA.Token);
        await TestKit.WaitUntilAsync(() => a.IsLeader, "a leads");
        var runB = b.RunUntilLeadershipLostAsync(stopB.Token);
        await Task.Delay(RetryPeriod * 3);

        var releasedAt = Stopwatch.StartNew();
        await stopA.CancelAsync();
        await runA;
        await TestKit.WaitUntilAsync(() => b.IsLeader, "b leads");

        Assert.True(releasedAt.Elapsed < LeaseDuration, $"b waited {releasedAt.Elapsed} for a released lease");
        Assert.Equal(["a started", "a stopped", "b started"], log);

        await stopB.CancelAsync();
        await runB;
        Assert.Null(fake.Get<V1Lease>(TestKit.Ns, "flashsale-operator")!.Spec!.HolderIdentity);
    }

    [Fact]
    public async Task AStaleRenewalMakesTheOldLeaderStepDown()
    {
        var a = Candidate("a");
        using var stop = new CancellationTokenSource();
        var run = a.RunUntilLeadershipLostAsync(stop.Token);
        await TestKit.WaitUntilAsync(() => a.IsLeader, "a leads");

        // Another process writes the lease behind a's back: a's next renewal carries a stale resourceVersion.
        fake.Modify<V1Lease>(TestKit.Ns, "flashsale-operator", lease =>
        {
            lease.Spec!.HolderIdentity = "intruder";
            lease.Spec.RenewTime = DateTimeOffset.UtcNow;
        });
        var intrudedAt = Stopwatch.StartNew();

        var finished = await Task.WhenAny(run, Task.Delay(TimeSpan.FromSeconds(10)));
        Assert.Same(run, finished);
        Assert.InRange(intrudedAt.Elapsed, TimeSpan.Zero, RenewDeadline + RetryPeriod + TimeSpan.FromSeconds(1));
        Assert.False(a.IsLeader);
        Assert.Equal(["a started", "a stopped"], log);
        Assert.Equal("intruder", fake.Get<V1Lease>(TestKit.Ns, "flashsale-operator")!.Spec!.HolderIdentity);
        Assert.Contains(fake.Requests, r => r.Verb == "update" && r.Resource == "leases" && r.StatusCode == 409);
        Assert.Equal("intruder", a.Leader);
    }

    [Fact]
    public void TheDefaultsAreControllerRuntimesAndImpossibleTimingsAreRefused()
    {
        var defaults = new LeaderElectionOptions { LeaseName = "l", LeaseNamespace = "n", Identity = "i" };
        Assert.Equal((TimeSpan.FromSeconds(15), TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(2)), (defaults.LeaseDuration, defaults.RenewDeadline, defaults.RetryPeriod));
        Assert.Throws<ArgumentException>(() => new LeaderElector(client, new LeaderElectionOptions { LeaseName = "l", LeaseNamespace = "n", Identity = "i", LeaseDuration = TimeSpan.FromSeconds(10) }));
    }

    private LeaderElector Candidate(string identity, bool releaseOnCancel = true)
    {
        var elector = new LeaderElector(client, new LeaderElectionOptions
        {
            LeaseName = "flashsale-operator",
            LeaseNamespace = TestKit.Ns,
            Identity = identity,
            LeaseDuration = LeaseDuration,
            RenewDeadline = RenewDeadline,
            RetryPeriod = RetryPeriod,
            ReleaseOnCancel = releaseOnCancel,
        });
        elector.OnStartedLeading += () => log.Enqueue($"{identity} started");
        elector.OnStoppedLeading += () => log.Enqueue($"{identity} stopped");
        return elector;
    }
}
