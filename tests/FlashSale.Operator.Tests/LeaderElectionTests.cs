using System.Collections.Concurrent;
using System.Diagnostics;
using FlashSale.Operator.Kubernetes;
using k8s.Models;

namespace FlashSale.Operator.Tests;

[CollectionDefinition(nameof(TimingSensitive), DisableParallelization = true)]
public sealed class TimingSensitive;

/// <summary>The official elector with the Lease release around it. Timings shortened to 2 s / 1.5 s / 0.25 s (controller-runtime's are 15 s / 10 s / 2 s).</summary>
[Collection(nameof(TimingSensitive))]
public sealed class LeaderElectionTests : FakeClusterTest
{
    const string Lease = "flashsale-operator";
    static readonly TimeSpan LeaseDuration = TimeSpan.FromSeconds(2);
    static readonly TimeSpan RenewDeadline = TimeSpan.FromSeconds(1.5);
    static readonly TimeSpan RetryPeriod = TimeSpan.FromMilliseconds(250);
    readonly ConcurrentQueue<string> _log = new();

    [Fact]
    public async Task TwoCandidatesNeverLeadAtTheSameTime()
    {
        var a = Candidate("a");
        var b = Candidate("b");
        using var stop = new CancellationTokenSource();
        var runs = new[] { a.RunAsync(stop.Token), b.RunAsync(stop.Token) };

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
        Assert.Equal(leader.Identity, fake.Get<V1Lease>(Ns, Lease)!.Spec.HolderIdentity);
        Assert.Equal([$"{leader.Identity} started"], _log);

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
        var runA = a.RunAsync(stopA.Token);
        await WaitUntilAsync(() => a.IsLeader, "a leads");
        var runB = b.RunAsync(stopB.Token);
        await Task.Delay(LeaseDuration + LeaseDuration);
        Assert.False(b.IsLeader, "b took the lease while a was renewing it");

        // a stops renewing as a crashed process would: without releasing the lease.
        await stopA.CancelAsync();
        await runA;
        var stoppedAt = Stopwatch.StartNew();
        await WaitUntilAsync(() => b.IsLeader, "b leads", LeaseDuration * 3);
        var takeover = stoppedAt.Elapsed;

        Assert.InRange(takeover, LeaseDuration - RetryPeriod - TimeSpan.FromMilliseconds(300), LeaseDuration + (RetryPeriod * 2) + TimeSpan.FromSeconds(1));
        var lease = fake.Get<V1Lease>(Ns, Lease)!;
        Assert.Equal("b", lease.Spec.HolderIdentity);
        Assert.Equal(1, lease.Spec.LeaseTransitions);
        Assert.Equal(2, lease.Spec.LeaseDurationSeconds);

        await stopB.CancelAsync();
        await runB;
    }

    [Fact]
    public async Task AStoppingLeaderReleasesItsLeaseAtOnce()
    {
        var a = Candidate("a");
        using var stop = new CancellationTokenSource();
        var run = a.RunAsync(stop.Token);
        await WaitUntilAsync(() => a.IsLeader, "a leads");

        await stop.CancelAsync();
        await run;

        var lease = fake.Get<V1Lease>(Ns, Lease)!;
        Assert.Equal("", lease.Spec.HolderIdentity);
        Assert.Equal(1, lease.Spec.LeaseDurationSeconds);
        Assert.Equal(["a started", "a stopped"], _log);
    }

    [Fact]
    public async Task AReleasedLeaseIsTakenOverAtOnceAndOnlyAfterTheOldLeaderStopped()
    {
        var a = Candidate("a");
        var b = Candidate("b");
        using var stopA = new CancellationTokenSource();
        using var stopB = new CancellationTokenSource();
        var runA = a.RunAsync(stopA.Token);
        await WaitUntilAsync(() => a.IsLeader, "a leads");
        var runB = b.RunAsync(stopB.Token);
        await Task.Delay(RetryPeriod * 3);

        var releasedAt = Stopwatch.StartNew();
        await stopA.CancelAsync();
        await runA;
        await WaitUntilAsync(() => b.IsLeader, "b leads");

        Assert.True(releasedAt.Elapsed < LeaseDuration, $"b waited {releasedAt.Elapsed} for a released lease");
        Assert.Equal(["a started", "a stopped", "b started"], _log);
        Assert.Equal("b", fake.Get<V1Lease>(Ns, Lease)!.Spec.HolderIdentity);

        await stopB.CancelAsync();
        await runB;
        Assert.Equal("", fake.Get<V1Lease>(Ns, Lease)!.Spec.HolderIdentity);
    }

    [Fact]
    public async Task ALeaderWhoseLeaseWasTakenBehindItsBackStepsDown()
    {
        var a = Candidate("a");
        using var stop = new CancellationTokenSource();
        var run = a.RunAsync(stop.Token);
        await WaitUntilAsync(() => a.IsLeader, "a leads");

        fake.Modify<V1Lease>(Ns, Lease, lease =>
        {
            lease.Spec.HolderIdentity = "intruder";
            lease.Spec.RenewTime = DateTime.UtcNow;
        });
        var intrudedAt = Stopwatch.StartNew();

        await WaitUntilAsync(() => !a.IsLeader, "a steps down", TimeSpan.FromSeconds(10));
        Assert.InRange(intrudedAt.Elapsed, TimeSpan.Zero, RenewDeadline + RetryPeriod + TimeSpan.FromSeconds(1));
        Assert.Equal(["a started", "a stopped"], _log);
        Assert.Equal("intruder", fake.Get<V1Lease>(Ns, Lease)!.Spec.HolderIdentity);

        await stop.CancelAsync();
        await run;
        Assert.Equal("intruder", fake.Get<V1Lease>(Ns, Lease)!.Spec.HolderIdentity);
    }

    [Fact]
    public void TheDefaultsAreControllerRuntimesAndImpossibleTimingsAreRefused()
    {
        var defaults = new LeaseElectionOptions { LeaseName = "l", LeaseNamespace = "n", Identity = "i" };
        Assert.Equal((TimeSpan.FromSeconds(15), TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(2)), (defaults.LeaseDuration, defaults.RenewDeadline, defaults.RetryPeriod));
        Assert.Throws<ArgumentException>(() => new LeaseElection(client, new LeaseElectionOptions { LeaseName = "l", LeaseNamespace = "n", Identity = "i", LeaseDuration = TimeSpan.FromSeconds(10) }));
    }

    LeaseElection Candidate(string identity, bool releaseOnCancel = true)
    {
        var election = new LeaseElection(client, new LeaseElectionOptions
        {
            LeaseName = Lease,
            LeaseNamespace = Ns,
            Identity = identity,
            LeaseDuration = LeaseDuration,
            RenewDeadline = RenewDeadline,
            RetryPeriod = RetryPeriod,
            ReleaseOnCancel = releaseOnCancel,
        });
        election.OnStartedLeading += () => _log.Enqueue($"{identity} started");
        election.OnStoppedLeading += () => _log.Enqueue($"{identity} stopped");
        return election;
    }
}
