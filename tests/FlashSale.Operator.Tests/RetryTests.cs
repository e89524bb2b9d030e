using System.Diagnostics;
using System.Net;
using FlashSale.Operator.Kubernetes;
using k8s;
using k8s.Autorest;
using k8s.Models;

namespace FlashSale.Operator.Tests;

/// <summary>The operator's retries in the official client's pipeline, against failures the fake injects.</summary>
public sealed class RetryTests : FakeClusterTest
{
    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        client.Dispose();
        client = fake.CreateClient(new RetryHandler(new RetryOptions
        {
            MaxAttempts = 4,
            InitialBackoff = TimeSpan.FromMilliseconds(50),
            MaxBackoff = TimeSpan.FromMilliseconds(400),
        }));
        fake.Seed(ConfigMap("target"));
    }

    [Fact]
    public async Task TooManyRequestsIsRetriedAfterItsRetryAfter()
    {
        fake.FailNextRequests(1, HttpStatusCode.TooManyRequests, retryAfter: TimeSpan.FromSeconds(1));
        var watch = Stopwatch.StartNew();

        var found = await client.CoreV1.ReadNamespacedConfigMapAsync("target", Ns);

        Assert.Equal("value", found.Data["key"]);
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

        var applied = await client.ApplyAsync(new V1ConfigMap
        {
            Metadata = new V1ObjectMeta { Name = "target", NamespaceProperty = Ns },
            Data = new Dictionary<string, string> { ["key"] = "retried" },
        }, "flashsale-operator");

        Assert.Equal("retried", applied.Data["key"]);
        Assert.Equal([(int)status, (int)status, 200], fake.Requests.Select(r => r.StatusCode));
        Assert.True(watch.Elapsed >= TimeSpan.FromMilliseconds(50 + 100) * 0.9, $"no backoff: {watch.Elapsed}");
    }

    [Fact]
    public async Task ServerErrorsStopBeingRetriedAfterTheLastAttempt()
    {
        fake.FailNextRequests(10, HttpStatusCode.ServiceUnavailable);

        var error = await Assert.ThrowsAsync<HttpOperationException>(() => client.CoreV1.ReadNamespacedConfigMapAsync("target", Ns));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, error.Response.StatusCode);
        Assert.Equal(4, fake.Requests.Count);
    }

    [Theory]
    [InlineData(HttpStatusCode.BadRequest)]
    [InlineData(HttpStatusCode.Forbidden)]
    [InlineData(HttpStatusCode.Conflict)]
    [InlineData(HttpStatusCode.UnprocessableEntity)]
    public async Task OtherClientErrorsAreNotRetried(HttpStatusCode status)
    {
        fake.FailNextRequests(1, status);

        var error = await Assert.ThrowsAsync<HttpOperationException>(() => client.CoreV1.ReadNamespacedConfigMapAsync("target", Ns));

        Assert.Equal(status, error.Response.StatusCode);
        Assert.Single(fake.Requests);
    }

    [Fact]
    public async Task AFailedWatchRequestIsRetriedLikeAnyOther()
    {
        fake.FailNextRequests(1, HttpStatusCode.ServiceUnavailable);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));

        var (type, first) = await client.CoreV1.WatchListNamespacedConfigMapAsync(Ns, cancellationToken: timeout.Token).FirstAsync(timeout.Token);

        Assert.Equal(WatchEventType.Added, type);
        Assert.Equal("target", first.Metadata.Name);
        Assert.Equal([503, 200], fake.Requests.Select(r => r.StatusCode));
    }
}
