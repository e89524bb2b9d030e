using System.Diagnostics;
using System.Net;
using FlashSale.Kubernetes.Fake;
using FlashSale.Kubernetes.Models;

namespace FlashSale.Kubernetes.Tests;

public sealed class RetryTests : IAsyncLifetime
{
    private FakeKubeApiServer fake = null!;
    private KubernetesClient client = null!;

    public async Task InitializeAsync()
    {
        fake = await TestKit.StartFakeAsync();
        client = TestKit.Client(fake, o => o.Retry = new KubernetesRetryOptions
        {
            MaxAttempts = 4,
            InitialBackoff = TimeSpan.FromMilliseconds(50),
            MaxBackoff = TimeSpan.FromMilliseconds(400),
        });
        fake.Seed(TestKit.ConfigMap("target"));
    }

    public async Task DisposeAsync()
    {
        client.Dispose();
        await fake.DisposeAsync();
    }

    [Fact]
    public async Task TooManyRequestsIsRetriedAfterItsRetryAfter()
    {
        fake.FailNextRequests(1, HttpStatusCode.TooManyRequests, retryAfter: TimeSpan.FromSeconds(1));
        var watch = Stopwatch.StartNew();

        var found = await client.GetAsync<V1ConfigMap>(TestKit.Ns, "target");

        Assert.NotNull(found);
        Assert.InRange(watch.Elapsed, TimeSpan.FromMilliseconds(950), TimeSpan.FromSeconds(5));
        Assert.Equal([429, 200], fake.Requests.Select(r => r.StatusCode));
    }

    [Theory]
    [InlineData(HttpStatusCode.InternalServerError)]
    [InlineData(HttpStatusCode.ServiceUnavailable)]
    [InlineData(HttpStatusCode.GatewayTimeout)]
    public async Task ServerErrorsBackOffExponentiallyUntilTheServerAnswers(HttpStatusCode status)
    {
        fake.FailNextRequests(2, status);
        var watch = Stopwatch.StartNew();

        var applied = await client.ApplyAsync(TestKit.ConfigMap("target", data: new Dictionary<string, string> { ["key"] = "retried" }), "flashsale-operator", force: true);

        Assert.Equal("retried", applied.Data!["key"]);
        Assert.Equal([(int)status, (int)status, 200], fake.Requests.Select(r => r.StatusCode));
        Assert.True(watch.Elapsed >= TimeSpan.FromMilliseconds(50 + 100) * 0.9, $"no backoff: {watch.Elapsed}");
    }

    [Fact]
    public async Task ServerErrorsStopBeingRetriedAfterTheLastAttempt()
    {
        fake.FailNextRequests(10, HttpStatusCode.ServiceUnavailable);

        var error = await Assert.ThrowsAsync<KubernetesApiException>(() => client.GetAsync<V1ConfigMap>(TestKit.Ns, "target"));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, error.StatusCode);
        Assert.Equal(4, fake.Requests.Count);
    }

    [Theory]
    [InlineData(HttpStatusCode.BadRequest)]
    [InlineData(HttpStatusCode.Forbidden)]
    [InlineData(HttpStatusCode.UnprocessableEntity)]
    public async Task OtherClientErrorsAreNotRetried(HttpStatusCode status)
    {
        fake.FailNextRequests(1, status);

        var error = await Assert.ThrowsAsync<KubernetesApiException>(() => client.GetAsync<V1ConfigMap>(TestKit.Ns, "target"));

        Assert.Equal(status, error.StatusCode);
        Assert.Single(fake.Requests);
    }

    [Fact]
    public async Task AFailedWatchRequestIsRetriedLikeAnyOther()
    {
        fake.FailNextRequests(1, HttpStatusCode.ServiceUnavailable);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var watching = Task.Run(async () =>
        {
            await foreach (var e in client.WatchAsync<V1ConfigMap>(TestKit.Ns, cancellationToken: timeout.Token))
            {
                return e;
            }

            throw new InvalidOperationException("the watch ended without an event");
        });

        var first = await watching;

        Assert.Equal(WatchEventType.Added, first.Type);
        Assert.Equal("target", first.Object.Metadata.Name);
        Assert.Equal([503, 200], fake.Requests.Select(r => r.StatusCode));
    }
}
