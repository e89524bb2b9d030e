using System.Security.Claims;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace FlashSale.ServiceDefaults;

/// <summary>Settings of the <see cref="BearerTokenHandler"/> scheme (filled from <c>Auth:*</c> by ServiceDefaults).</summary>
public sealed class BearerTokenOptions
{
    /// <summary>The authentication scheme's name, as in <c>WWW-Authenticate</c>.</summary>
    public const string Scheme = "Bearer";

    /// <summary>What a token must satisfy; built once and used for every validation (never copied per request).</summary>
    public TokenValidationParameters TokenValidationParameters { get; set; } = new();
}

/// <summary>
/// Bearer-token authentication: <c>Authorization: Bearer &lt;JWT&gt;</c>, validated by <see cref="CachingJsonWebTokenHandler"/>
/// (RS256 with the keys of <see cref="JwksKeyCache"/>, issuer, audience, lifetime) and accepted only with a user id as its
/// <c>sub</c>. What <c>JwtBearerHandler</c> did for these services, with less work per request:
/// <list type="bullet">
/// <item>a token validated a moment ago is answered from the cache synchronously, with the cached identity itself (read-only,
/// see <see cref="CachingJsonWebTokenHandler.TryGetRemembered"/>) in a principal of the request's own;</item>
/// <item>no per-request copy of the validation parameters, no event contexts, and none of the per-request set-up of
/// <c>AuthenticationHandler&lt;T&gt;</c> (a logger created per request, the options validated per request): this implements
/// <see cref="IAuthenticationHandler"/> directly.</item>
/// </list>
/// A failure answers 401 with <c>WWW-Authenticate: Bearer error="invalid_token"</c> and a description that names the check
/// that failed (RFC 6750 section 3), never the token's content; a request without a token gets a plain <c>Bearer</c>
/// challenge; a forbidden one 403.
/// </summary>
public sealed partial class BearerTokenHandler(
    IOptionsMonitor<BearerTokenOptions> options, CachingJsonWebTokenHandler tokens, JwksKeyCache keys, ILogger<BearerTokenHandler> logger)
    : IAuthenticationHandler
{
    const string Prefix = "Bearer ";
    AuthenticationScheme _scheme = null!;
    HttpContext _context = null!;
    Task<AuthenticateResult>? _result;

    public Task InitializeAsync(AuthenticationScheme scheme, HttpContext context)
    {
        (_scheme, _context) = (scheme, context);
        return Task.CompletedTask;
    }

    /// <summary>Authenticates once per request (a challenge after it asks again for the failure).</summary>
    public Task<AuthenticateResult> AuthenticateAsync() => _result ??= Authenticate();

    Task<AuthenticateResult> Authenticate()
    {
        string? header = _context.Request.Headers.Authorization;
        if (string.IsNullOrEmpty(header) || !header.StartsWith(Prefix, StringComparison.OrdinalIgnoreCase))
            return Task.FromResult(AuthenticateResult.NoResult());
        var token = header.AsSpan(Prefix.Length).Trim();
        if (token.IsEmpty) return Task.FromResult(AuthenticateResult.NoResult());
        var text = token.Length == header.Length - Prefix.Length ? header[Prefix.Length..] : token.ToString();
        return tokens.TryGetRemembered(text, out var identity)
            ? Task.FromResult(Accept(identity))
            : ValidateAsync(text);
    }

    async Task<AuthenticateResult> ValidateAsync(string token)
    {
        try
        {
            // Keys fetched from Auth:JwksUrl: an unknown kid may be a key the issuer added since the last fetch.
            if (keys.FetchesKeys) await keys.EnsureKeyAsync(ReadKeyId(token), _context.RequestAborted);
            var result = await tokens.ValidateTokenAsync(token, options.Get(_scheme.Name).TokenValidationParameters);
            if (!result.IsValid)
            {
                var error = result.Exception ?? new SecurityTokenValidationException("The token is not valid.");
                LogRejected(logger, error.GetType().Name, error.Message);
                return AuthenticateResult.Fail(error);
            }
            return Accept(result.ClaimsIdentity);
        }
        catch (Exception e) // as AuthenticationHandler<T> does: a validation that throws is a failed one, not a 500
        {
            LogRejected(logger, e.GetType().Name, e.Message);
            return AuthenticateResult.Fail(e);
        }
    }

    AuthenticateResult Accept(ClaimsIdentity identity)
    {
        if (!Guid.TryParse(identity.FindFirst(JwtClaims.Subject)?.Value, out _))
        {
            LogRejected(logger, nameof(SecurityTokenInvalidSubjectException), "The token's 'sub' claim is not a user id.");
            return AuthenticateResult.Fail(new SecurityTokenInvalidSubjectException("The token's 'sub' claim is not a user id."));
        }
        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), _scheme.Name));
    }

    public async Task ChallengeAsync(AuthenticationProperties? properties)
    {
        var result = await AuthenticateAsync();
        _context.Response.StatusCode = StatusCodes.Status401Unauthorized;
        _context.Response.Headers.WWWAuthenticate = result.Failure is { } failure
            ? $"{BearerTokenOptions.Scheme} error=\"invalid_token\", error_description=\"{Describe(failure)}\""
            : BearerTokenOptions.Scheme;
    }

    public Task ForbidAsync(AuthenticationProperties? properties)
    {
        _context.Response.StatusCode = StatusCodes.Status403Forbidden;
        return Task.CompletedTask;
    }

    /// <summary>Which check failed, in words that carry nothing from the token (RFC 6750's error_description is plain ASCII without quotes).</summary>
    internal static string Describe(Exception failure) => failure switch
    {
        SecurityTokenExpiredException => "The token has expired",
        SecurityTokenNotYetValidException => "The token is not valid yet",
        SecurityTokenInvalidAudienceException => "The token is for another audience",
        SecurityTokenInvalidIssuerException => "The token is from another issuer",
        SecurityTokenSignatureKeyNotFoundException => "The token is signed by an unknown key",
        SecurityTokenInvalidSignatureException => "The token's signature is invalid",
        SecurityTokenInvalidAlgorithmException => "The token's algorithm is not accepted",
        SecurityTokenInvalidSubjectException => "The token's subject is not a user id",
        SecurityTokenNoExpirationException => "The token has no expiry",
        _ => "The token is not valid",
    };

    static string? ReadKeyId(string token)
    {
        try { return new JsonWebToken(token).Kid; }
        catch (Exception e) when (e is ArgumentException or SecurityTokenException) { return null; } // malformed: validation rejects it
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Bearer token rejected ({Reason}): {Detail}")]
    static partial void LogRejected(ILogger logger, string reason, string detail);
}

/// <summary>A token whose <c>sub</c> claim is not a FlashSale user id.</summary>
public sealed class SecurityTokenInvalidSubjectException(string message) : SecurityTokenValidationException(message);
