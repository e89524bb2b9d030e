using System.Text.Json;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Mvc;

namespace FlashSale.ServiceDefaults;

/// <summary>
/// Tells the exception handler that an exception means a dependency is unavailable (answered 503 with Retry-After, like a
/// transient PostgreSQL error or a timeout). Registered by the code that owns the dependency, e.g. the Redis registration
/// for StackExchange.Redis's connection errors, so that this library needs no reference to every client library.
/// </summary>
public sealed class DependencyUnavailable(Func<Exception, bool> matches)
{
    public bool Matches(Exception exception) => matches(exception);
}

public static class DependencyUnavailableExtensions
{
    /// <summary>Exceptions of type <typeparamref name="TException"/> are answered 503 (see <see cref="DependencyUnavailable"/>).</summary>
    public static IServiceCollection AddDependencyUnavailable<TException>(this IServiceCollection services) where TException : Exception =>
        services.AddSingleton(new DependencyUnavailable(e => e is TException));
}

/// <summary>Turns every exception into a ProblemDetails response without exception details (no stack traces to clients).</summary>
sealed class ProblemExceptionHandler(IProblemDetailsService problemDetails, IEnumerable<DependencyUnavailable> unavailable,
    ILogger<ProblemExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken cancellationToken)
    {
        ProblemDetails problem;
        if (exception is BadHttpRequestException { InnerException: InvalidTextException invalid })
        {
            var field = StrictInput.FieldOf(invalid.Path);
            problem = new HttpValidationProblemDetails(new Dictionary<string, string[]> { [field] = [StrictInput.Refusal] })
            {
                Status = StatusCodes.Status400BadRequest,
                Title = "One or more fields are invalid.",
                Extensions = { ["reason"] = Problems.Validation },
            };
            logger.LogInformation("Refused a request to {Path}: control characters or invalid Unicode in {Field}", context.Request.Path.Value, field);
        }
        else if (exception is BadHttpRequestException bad)
        {
            problem = bad.StatusCode == StatusCodes.Status413PayloadTooLarge
                ? RequestBodyLimitMiddleware.TooLarge(context)
                : new ProblemDetails
                {
                    Status = bad.StatusCode,
                    Title = bad.StatusCode == StatusCodes.Status415UnsupportedMediaType ? "Unsupported media type." : "The request is malformed.",
                    Detail = DescribeBadRequest(bad),
                    Extensions = { ["reason"] = Problems.MalformedRequest },
                };
            logger.LogInformation("Rejected a bad request to {Path} with {StatusCode}: {Detail}", context.Request.Path.Value, bad.StatusCode, problem.Detail);
        }
        else if (exception is Npgsql.NpgsqlException { IsTransient: true } or TimeoutException || unavailable.Any(u => u.Matches(exception)))
        {
            logger.LogWarning(exception, "A dependency is unavailable while handling {Method} {Path}", context.Request.Method, context.Request.Path.Value);
            context.Response.Headers.RetryAfter = "5";
            problem = new ProblemDetails
            {
                Status = StatusCodes.Status503ServiceUnavailable,
                Title = "The service is temporarily unavailable.",
                Extensions = { ["reason"] = "DEPENDENCY_UNAVAILABLE" },
            };
        }
        else
        {
            logger.LogError(exception, "Unhandled exception while handling {Method} {Path}", context.Request.Method, context.Request.Path.Value);
            problem = new ProblemDetails
            {
                Status = StatusCodes.Status500InternalServerError,
                Title = "An unexpected error occurred.",
                Extensions = { ["reason"] = "INTERNAL_ERROR" },
            };
        }
        if (context.Response.HasStarted) return false;
        context.Response.StatusCode = problem.Status!.Value;
        return await problemDetails.TryWriteAsync(new ProblemDetailsContext { HttpContext = context, ProblemDetails = problem, Exception = null });
    }

    // Messages of the framework's bad-request exceptions name parameters and types; keep only what helps the client.
    static string DescribeBadRequest(BadHttpRequestException bad) => bad.InnerException switch
    {
        JsonException { Path: { } path } => $"The request body is not valid JSON or a value has the wrong type (at '{path}').",
        JsonException => "The request body is not valid JSON.",
        _ when bad.StatusCode == StatusCodes.Status415UnsupportedMediaType => "Expected a request body with content type application/json.",
        _ when bad.Message.Contains("no body was provided", StringComparison.OrdinalIgnoreCase) => "A JSON request body is required.",
        _ => "The request could not be read.",
    };
}

/// <summary>
/// Caps request bodies (<c>Http:MaxRequestBodyBytes</c>, 64 KiB default) with a 413 ProblemDetails, on Kestrel and TestServer alike:
/// a declared Content-Length over the cap is refused at once; a chunked body is buffered up to the cap.
/// </summary>
sealed class RequestBodyLimitMiddleware(RequestDelegate next, IConfiguration configuration, IProblemDetailsService problemDetails)
{
    public const long DefaultMaxRequestBodyBytes = 64 * 1024;
    readonly long _limit = configuration.GetValue("Http:MaxRequestBodyBytes", DefaultMaxRequestBodyBytes);

    public async Task InvokeAsync(HttpContext context)
    {
        var sizeFeature = context.Features.Get<IHttpMaxRequestBodySizeFeature>();
        if (sizeFeature is { IsReadOnly: false }) sizeFeature.MaxRequestBodySize = _limit;

        var length = context.Request.ContentLength;
        if (length > _limit) { await RejectAsync(context); return; }
        if (length is null && context.Request.Headers.TransferEncoding.Count > 0)
        {
            var buffer = new MemoryStream();
            try
            {
                var chunk = new byte[8192];
                int read;
                while ((read = await context.Request.Body.ReadAsync(chunk, context.RequestAborted)) > 0)
                {
                    if (buffer.Length + read > _limit) { await RejectAsync(context); return; }
                    buffer.Write(chunk, 0, read);
                }
            }
            catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
            {
                await RejectAsync(context); return;
            }
            buffer.Position = 0;
            context.Request.Body = buffer;
            context.Request.ContentLength = buffer.Length;
        }
        await next(context);
    }

    async Task RejectAsync(HttpContext context)
    {
        context.Response.StatusCode = StatusCodes.Status413PayloadTooLarge;
        await problemDetails.WriteAsync(new ProblemDetailsContext { HttpContext = context, ProblemDetails = TooLarge(context) });
    }

    internal static ProblemDetails TooLarge(HttpContext context)
    {
        var limit = context.RequestServices.GetService(typeof(IConfiguration)) is IConfiguration c
            ? c.GetValue("Http:MaxRequestBodyBytes", DefaultMaxRequestBodyBytes) : DefaultMaxRequestBodyBytes;
        return new ProblemDetails
        {
            Status = StatusCodes.Status413PayloadTooLarge,
            Title = "The request body is too large.",
            Detail = $"Request bodies are limited to {limit} bytes.",
            Extensions = { ["reason"] = Problems.RequestTooLarge },
        };
    }
}
