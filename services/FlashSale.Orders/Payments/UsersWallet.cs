using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Serialization;
using Polly;
using Polly.CircuitBreaker;
using Polly.Retry;
using Polly.Timeout;

namespace FlashSale.Orders.Payments;

public sealed record WalletDebitRequest(Guid OrderId, decimal Amount, string Currency);

[JsonSerializable(typeof(WalletDebitRequest))]
[JsonSerializable(typeof(JsonElement))]
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
public partial class PaymentsJsonContext : JsonSerializerContext;

public enum DebitOutcome { Debited, InsufficientFunds, Rejected, Unavailable }

/// <param name="Reason">The users service's reason (INSUFFICIENT_FUNDS, CURRENCY_MISMATCH, ...) or why it was unavailable.</param>
/// <param name="RetryAfter">For <see cref="DebitOutcome.Unavailable"/>: when to try again.</param>
public readonly record struct DebitResult(DebitOutcome Outcome, int Status, string? Reason, string? Detail, TimeSpan RetryAfter);

/// <summary>
/// The wallet debit in the users service (POST /api/wallet/debits with the buyer's token; idempotent per order id), through
/// a Polly pipeline: total timeout -> retry with jittered exponential backoff (safe: the debit is idempotent) -> circuit
/// breaker (while open, callers get Unavailable at once instead of queueing on a dead service) -> per-attempt timeout.
/// </summary>
public sealed class UsersWallet
{
    public const string HttpClientName = "FlashSale.Orders.Users";
    readonly IHttpClientFactory _http;
    readonly PaymentOptions _options;
    readonly ILogger<UsersWallet> _logger;
    readonly ResiliencePipeline<HttpResponseMessage> _pipeline;

    public UsersWallet(IHttpClientFactory http, IOptions<OrdersOptions> options, OrdersMetrics metrics, ILogger<UsersWallet> logger)
    {
        _http = http;
        _options = options.Value.Payment;
        _logger = logger;
        var transient = new PredicateBuilder<HttpResponseMessage>()
            .Handle<HttpRequestException>()
            .Handle<TimeoutRejectedException>()
            .HandleResult(r => (int)r.StatusCode >= 500 || r.StatusCode is HttpStatusCode.RequestTimeout or HttpStatusCode.TooManyRequests);
        var o = _options;
        _pipeline = new ResiliencePipelineBuilder<HttpResponseMessage>()
            .AddTimeout(o.Timeout)
            .AddRetry(new RetryStrategyOptions<HttpResponseMessage>
            {
                ShouldHandle = transient,
                MaxRetryAttempts = Math.Max(0, o.MaxRetries),
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = o.RetryDelay,
                MaxDelay = TimeSpan.FromSeconds(2),
                OnRetry = a =>
                {
                    _logger.LogWarning(a.Outcome.Exception, "Wallet debit attempt {Attempt} failed ({Status}); retrying in {Delay}",
                        a.AttemptNumber + 1, a.Outcome.Result?.StatusCode, a.RetryDelay);
                    return default;
                },
            })
            .AddCircuitBreaker(new CircuitBreakerStrategyOptions<HttpResponseMessage>
            {
                ShouldHandle = transient,
                FailureRatio = o.BreakerFailureRatio,
                MinimumThroughput = Math.Max(2, o.BreakerMinimumThroughput),
                SamplingDuration = o.BreakerSamplingDuration,
                BreakDuration = o.BreakDuration,
                OnOpened = a =>
                {
                    metrics.PaymentBreaker(BreakerState.Open);
                    _logger.LogError("Users service circuit opened for {BreakDuration}", a.BreakDuration);
                    return default;
                },
                OnHalfOpened = _ => { metrics.PaymentBreaker(BreakerState.HalfOpen); return default; },
                OnClosed = _ =>
                {
                    metrics.PaymentBreaker(BreakerState.Closed);
                    _logger.LogInformation("Users service circuit closed");
                    return default;
                },
            })
            .AddTimeout(o.AttemptTimeout)
            .Build();
    }

    readonly System.Collections.Concurrent.ConcurrentDictionary<Guid, Lazy<Task<DebitResult>>> _inFlight = new();

    /// <summary>
    /// Debits once per order id. Concurrent attempts for one order in this replica share one call (the caller that started
    /// it owns the order, as do the others: the lease checked the owner), so a burst of retries never piles up on the users
    /// service; the shared call is bounded by the pipeline's timeout, not by any one caller's cancellation.
    /// </summary>
    public async Task<DebitResult> DebitAsync(Guid orderId, decimal amount, string currency, string authorization, CancellationToken ct)
    {
        var call = new Lazy<Task<DebitResult>>(() => DebitOnceAsync(orderId, amount, currency, authorization, CancellationToken.None));
        var shared = _inFlight.GetOrAdd(orderId, call);
        try
        {
            return await shared.Value.WaitAsync(ct);
        }
        finally
        {
            if (ReferenceEquals(shared, call)) _inFlight.TryRemove(new KeyValuePair<Guid, Lazy<Task<DebitResult>>>(orderId, call));
        }
    }

    async Task<DebitResult> DebitOnceAsync(Guid orderId, decimal amount, string currency, string authorization, CancellationToken ct)
    {
        if (string.IsNullOrWhiteSpace(_options.UsersUrl) || !Uri.TryCreate(_options.UsersUrl, UriKind.Absolute, out var baseUri))
            return new DebitResult(DebitOutcome.Unavailable, 503, "PAYMENT_UNAVAILABLE", "Orders:Payment:UsersUrl is not configured", _options.BreakDuration);
        var url = new Uri(baseUri, "api/wallet/debits");
        var body = new WalletDebitRequest(orderId, amount, currency);
        HttpResponseMessage response;
        try
        {
            response = await _pipeline.ExecuteAsync(async token =>
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, url)
                {
                    Content = JsonContent.Create(body, PaymentsJsonContext.Default.WalletDebitRequest),
                };
                request.Headers.Authorization = AuthenticationHeaderValue.Parse(authorization);
                return await _http.CreateClient(HttpClientName).SendAsync(request, token);
            }, ct);
        }
        catch (BrokenCircuitException e)
        {
            return new DebitResult(DebitOutcome.Unavailable, 503, "PAYMENT_UNAVAILABLE", "The users service is failing; payments are paused briefly.",
                e.RetryAfter is { } after && after > TimeSpan.Zero ? after : _options.BreakDuration);
        }
        catch (Exception e) when (e is HttpRequestException or TimeoutRejectedException && !ct.IsCancellationRequested)
        {
            _logger.LogWarning("Wallet debit for order {OrderId} failed: {Error}", orderId, e.Message);
            return new DebitResult(DebitOutcome.Unavailable, 503, "PAYMENT_UNAVAILABLE", "The users service did not answer in time.", TimeSpan.FromSeconds(1));
        }
        using (response)
        {
            var status = (int)response.StatusCode;
            if (response.IsSuccessStatusCode) return new DebitResult(DebitOutcome.Debited, status, null, null, default);
            string? reason = null, detail = null;
            try
            {
                var problem = await response.Content.ReadFromJsonAsync(PaymentsJsonContext.Default.JsonElement, ct);
                if (problem.ValueKind == JsonValueKind.Object)
                {
                    if (problem.TryGetProperty("reason", out var r) && r.ValueKind == JsonValueKind.String) reason = r.GetString();
                    if (problem.TryGetProperty("detail", out var d) && d.ValueKind == JsonValueKind.String) detail = d.GetString();
                }
            }
            catch (Exception e) when (e is JsonException or NotSupportedException or InvalidOperationException) { /* not a ProblemDetails */ }
            if (status >= 500 || response.StatusCode is HttpStatusCode.RequestTimeout or HttpStatusCode.TooManyRequests)
                return new DebitResult(DebitOutcome.Unavailable, 503, "PAYMENT_UNAVAILABLE", $"The users service answered {status}.", TimeSpan.FromSeconds(1));
            if (reason == "INSUFFICIENT_FUNDS") return new DebitResult(DebitOutcome.InsufficientFunds, 409, reason, detail, default);
            _logger.LogWarning("Wallet debit for order {OrderId} refused: {Status} {Reason} {Detail}", orderId, status, reason, detail);
            return new DebitResult(DebitOutcome.Rejected, status, reason ?? "PAYMENT_REJECTED", detail, default);
        }
    }
}
