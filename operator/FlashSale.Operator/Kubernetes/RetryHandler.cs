using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Polly;
using Polly.Retry;

namespace FlashSale.Operator.Kubernetes;

/// <summary>
/// 429 is retried after its Retry-After; 500, 503 and 504 (and a failed connection, except for POST) back off exponentially;
/// any other status is answered at once.
/// </summary>
public sealed class RetryOptions
{
    /// <summary>Attempts in all, the first included; 1 disables retries.</summary>
    public int MaxAttempts { get; set; } = 5;

    public TimeSpan InitialBackoff { get; set; } = TimeSpan.FromMilliseconds(200);

    public TimeSpan MaxBackoff { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>A Retry-After longer than this is shortened to it.</summary>
    public TimeSpan MaxRetryAfter { get; set; } = TimeSpan.FromSeconds(60);
}

/// <summary>
/// The retries the official client does not make, as a handler in its HTTP pipeline (so watches, lists and writes alike).
/// A POST whose connection failed is not sent again: the create may have happened.
/// </summary>
public sealed class RetryHandler : DelegatingHandler
{
    private readonly RetryOptions options;
    private readonly ILogger logger;
    private readonly ResiliencePipeline<HttpResponseMessage> retryAll;
    private readonly ResiliencePipeline<HttpResponseMessage> retryAnswers;

    public RetryHandler(RetryOptions? options = null, ILogger? logger = null)
    {
        this.options = options ?? new RetryOptions();
        this.logger = logger ?? NullLogger.Instance;
        retryAll = Build(retryFailedConnections: true);
        retryAnswers = Build(retryFailedConnections: false);
    }

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var pipeline = request.Method == HttpMethod.Post ? retryAnswers : retryAll;
        return await pipeline.ExecuteAsync(
            static async (state, token) => await state.Handler.SendOnceAsync(state.Request, token).ConfigureAwait(false),
            (Handler: this, Request: request),
            cancellationToken).ConfigureAwait(false);
    }

    private Task<HttpResponseMessage> SendOnceAsync(HttpRequestMessage request, CancellationToken cancellationToken) => base.SendAsync(request, cancellationToken);

    private ResiliencePipeline<HttpResponseMessage> Build(bool retryFailedConnections) =>
        new ResiliencePipelineBuilder<HttpResponseMessage>()
            .AddRetry(new RetryStrategyOptions<HttpResponseMessage>
            {
                MaxRetryAttempts = Math.Max(1, options.MaxAttempts - 1),
                ShouldHandle = args => ValueTask.FromResult(options.MaxAttempts > 1 && args.Outcome switch
                {
                    { Result: { } response } => (int)response.StatusCode is 429 or 500 or 503 or 504,
                    { Exception: HttpRequestException } => retryFailedConnections,
                    _ => false,
                }),
                DelayGenerator = args => ValueTask.FromResult<TimeSpan?>(RetryAfter(args.Outcome.Result) ?? Backoff(args.AttemptNumber)),
                OnRetry = args =>
                {
                    logger.LogWarning(
                        "Kubernetes API answered {Outcome}; attempt {Attempt} of {MaxAttempts}, retrying in {Delay}",
                        args.Outcome.Result is { } r ? ((int)r.StatusCode).ToString(System.Globalization.CultureInfo.InvariantCulture) : args.Outcome.Exception?.Message,
                        args.AttemptNumber + 1,
                        options.MaxAttempts,
                        args.RetryDelay);
                    return default;
                },
            })
            .Build();

    private TimeSpan Backoff(int attempt)
    {
        var exponential = options.InitialBackoff * Math.Pow(2, attempt);
        var capped = exponential < options.MaxBackoff ? exponential : options.MaxBackoff;
        return capped * (0.9 + (Random.Shared.NextDouble() * 0.2));
    }

    private TimeSpan? RetryAfter(HttpResponseMessage? response)
    {
        var header = response?.Headers.RetryAfter;
        TimeSpan? wait = header?.Delta ?? (header?.Date is { } date ? date - DateTimeOffset.UtcNow : null);
        return wait is null ? null : wait < TimeSpan.Zero ? TimeSpan.Zero : wait > options.MaxRetryAfter ? options.MaxRetryAfter : wait;
    }
}
