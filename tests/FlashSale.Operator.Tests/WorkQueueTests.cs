using FlashSale.Operator.Runtime;

namespace FlashSale.Operator.Tests;

public class WorkQueueTests
{
    [Fact]
    public async Task AKeyAddedManyTimesWhileWaitingIsHandedOutOnce()
    {
        using var queue = new WorkQueue("test");
        queue.Add("ns/a");
        queue.Add("ns/a");
        queue.Add("ns/b");
        queue.Add("ns/a");

        Assert.Equal(2, queue.Count);
        Assert.Equal("ns/a", await queue.GetAsync(CancellationToken.None));
        Assert.Equal("ns/b", await queue.GetAsync(CancellationToken.None));
        Assert.Equal(0, queue.Count);
    }

    [Fact]
    public async Task AKeyAddedWhileBeingProcessedComesBackOnlyAfterDone()
    {
        using var queue = new WorkQueue("test");
        queue.Add("ns/a");
        var key = await queue.GetAsync(CancellationToken.None);

        queue.Add("ns/a");
        Assert.Equal(0, queue.Count);
        queue.Done(key!);

        Assert.Equal(1, queue.Count);
        Assert.Equal("ns/a", await queue.GetAsync(CancellationToken.None));
    }

    [Fact]
    public void TheBackoffStartsAtFiveMillisecondsDoublesPerFailureAndStopsAtOneThousandSeconds()
    {
        using var queue = new WorkQueue("test");

        var delays = Enumerable.Range(0, 30).Select(_ => queue.AddRateLimited("ns/a")).ToList();

        Assert.Equal(TimeSpan.FromMilliseconds(5), delays[0]);
        Assert.Equal(TimeSpan.FromMilliseconds(10), delays[1]);
        Assert.Equal(TimeSpan.FromMilliseconds(5 * 1024), delays[10]);
        Assert.Equal(TimeSpan.FromSeconds(1000), delays[^1]);
        queue.Forget("ns/a");
        Assert.Equal(TimeSpan.FromMilliseconds(5), queue.AddRateLimited("ns/a"));
    }

    [Fact]
    public async Task ADelayedAddArrivesAfterItsDelay()
    {
        using var queue = new WorkQueue("test");
        var started = DateTime.UtcNow;

        queue.AddAfter("ns/a", TimeSpan.FromMilliseconds(200));
        Assert.Equal(0, queue.Count);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        Assert.Equal("ns/a", await queue.GetAsync(timeout.Token));

        Assert.True(DateTime.UtcNow - started >= TimeSpan.FromMilliseconds(190));
    }

    [Fact]
    public async Task ShuttingDownReleasesWaitingWorkers()
    {
        var queue = new WorkQueue("test");
        var waiting = queue.GetAsync(CancellationToken.None);

        queue.ShutDown();

        Assert.Null(await waiting.WaitAsync(TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public void TheQueueReportsItsDepthAddsAndRetries()
    {
        var metrics = new OperatorMetrics();
        using var queue = new WorkQueue("flashsale", metrics: metrics);
        queue.Add("ns/a");
        queue.Add("ns/b");
        var text = metrics.Render();
        queue.AddRateLimited("ns/c");

        Assert.Contains("workqueue_depth{name=\"flashsale\"} 2", text);
        Assert.Contains("workqueue_adds_total{name=\"flashsale\"} 2", text);
        Assert.Contains("workqueue_retries_total{name=\"flashsale\"} 1", metrics.Render());
    }
}
