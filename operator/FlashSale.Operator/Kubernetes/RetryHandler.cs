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
    readonly RetryOptions _options;
    readonly ILogger _logger;
    readonly ResiliencePipeline<HttpResponseMessage> _retryAll;
    readonly ResiliencePipeline<HttpResponseMessage> _retryAnswers;

    public RetryHandler(RetryOptions? options = null, ILogger? logger = null)
    {
        _options = options ?? new RetryOptions();
        _logger = logger ?? NullLogger.Instance;
        _retryAll = Build(retryFailedConnections: true);
        _retryAnswers = Build(retryFailedConnections: false);
    }

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var pipeline = request.Method == HttpMethod.Post ? _retryAnswers : _retryAll;
        return await pipeline.ExecuteAsync(
            static async (state, token) => await state.Handler.SendOnceAsync(state.Request, token).ConfigureAwait(false),
            (Handler: this, Request: request),
            cancellationToken).ConfigureAwait(false);
    }

    Task<HttpResponseMessage> SendOnceAsync(HttpRequestMessage request, CancellationToken cancellationToken) => base.SendAsync(request, cancellationToken);

    ResiliencePipeline<HttpResponseMessage> Build(bool retryFailedConnections) =>
        new ResiliencePipelineBuilder<HttpResponseMessage>()
            .AddRetry(new RetryStrategyOptions<HttpResponseMessage>
            {
                MaxRetryAttempts = Math.Max(1, _options.MaxAttempts - 1),
                ShouldHandle = args => ValueTask.FromResult(_options.MaxAttempts > 1 && args.Outcome switch
                {
                    { Result: { } response } => (int)response.StatusCode is 429 or 500 or 503 or 504,
                    { Exception: HttpRequestException } => retryFailedConnections,
                    _ => false,
                }),
                DelayGenerator = args => ValueTask.FromResult<TimeSpan?>(RetryAfter(args.Outcome.Result) ?? Backoff(args.AttemptNumber)),
                OnRetry = args =>
                {
                    _logger.LogWarning(
                        "Kubernetes API answered {Outcome}; attempt {Attempt} of {MaxAttempts}, retrying in {Delay}",
                        args.Outcome.Result is { } r ? ((int)r.StatusCode).ToString(System.Globalization.CultureInfo.InvariantCulture) : args.Outcome.Exception?.Message,
                        args.AttemptNumber + 1,
                        _options.MaxAttempts,
                        args.RetryDelay);
                    return default;
                },
            })
            .Build();

    TimeSpan Backoff(int attempt)
    {
        var exponential = _options.InitialBackoff * Math.Pow(2, attempt);
        var capped = exponential < _options.MaxBackoff ? exponential : _options.MaxBackoff;
        return capped * (0.9 + (Random.Shared.NextDouble() * 0.2));
    }

    TimeSpan? RetryAfter(HttpResponseMessage? response)
    {
        var header = response?.Headers.RetryAfter;
        TimeSpan? wait = header?.Delta ?? (header?.Date is { } date ? date - DateTimeOffset.UtcNow : null);
        return wait is null ? null : wait < TimeSpan.Zero ? TimeSpan.Zero : wait > _options.MaxRetryAfter ? _options.MaxRetryAfter : wait;
    }
}
