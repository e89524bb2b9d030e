using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Claims;
using FlashSale.LoadTest;
using Microsoft.IdentityModel.Tokens;

namespace FlashSale.ServiceDefaults.Tests;

/// <summary>The cache of verified tokens (CachingJsonWebTokenHandler): what it may answer without verifying, and what it must not.</summary>
public sealed class TokenCacheTests
{
    sealed class ManualClock(DateTimeOffset now) : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = now;
        public override DateTimeOffset GetUtcNow() => Now;
    }

    readonly TokenMinter _signer = new();
    readonly ManualClock _clock = new(DateTimeOffset.UtcNow);

    TokenValidationParameters Parameters() => new()
    {
        ValidIssuer = "flashsale", ValidAudience = "flashsale", ValidAlgorithms = [SecurityAlgorithms.RsaSha256],
        IssuerSigningKeys = JwksKeyCache.ParseJwks(_signer.Jwks), RequireExpirationTime = true, ClockSkew = TimeSpan.Zero,
    };

    [Fact]
    public async Task ASecondValidationOfTheSameTokenIsAnsweredFromTheCacheWithItsOwnCopyOfTheClaims()
    {
        var handler = new CachingJsonWebTokenHandler(100, TimeSpan.FromMinutes(5), _clock);
        var id = Guid.NewGuid();
        var token = _signer.Mint(id);
        var first = await handler.ValidateTokenAsync(token, Parameters());
        var second = await handler.ValidateTokenAsync(token, Parameters());
        Assert.True(first.IsValid);
        Assert.True(second.IsValid);
        Assert.Equal((1L, 1L), (handler.Misses, handler.Hits));
        Assert.True(handler.IsRemembered(token));
        Assert.False(handler.IsRemembered(_signer.Mint(Guid.NewGuid())));
        Assert.Equal(id.ToString(), second.ClaimsIdentity.FindFirst("sub")?.Value);
        Assert.NotSame(first.ClaimsIdentity, second.ClaimsIdentity);
        second.ClaimsIdentity.AddClaim(new Claim("role", "admin"));
        var third = await handler.ValidateTokenAsync(token, Parameters());
        Assert.Null(third.ClaimsIdentity.FindFirst("role")); // a claim added by one request does not reach the next
        // The synchronous lookup the authentication handler makes first: no copy, the entry's identity, which refuses changes.
        Assert.True(handler.TryGetRemembered(token, out var fourth));
        Assert.Equal(id.ToString(), fourth.FindFirst("sub")?.Value);
        Assert.Throws<InvalidOperationException>(() => fourth.AddClaim(new Claim("role", "admin")));
        Assert.Throws<InvalidOperationException>(() => fourth.AddClaims([new Claim("role", "admin")]));
        Assert.Throws<InvalidOperationException>(() => fourth.RemoveClaim(fourth.FindFirst("sub")));
        Assert.Throws<InvalidOperationException>(() => fourth.TryRemoveClaim(fourth.FindFirst("sub")));
        Assert.True(handler.TryGetRemembered(token, out var fifth));
        Assert.Null(fifth.FindFirst("role"));
        Assert.Equal(id.ToString(), fifth.FindFirst("sub")?.Value);
        var copy = fifth.Clone(); // a copy can be changed, and the cached identity stays as it was
        copy.AddClaim(new Claim("role", "admin"));
        Assert.True(handler.TryGetRemembered(token, out var sixth));
        Assert.Null(sixth.FindFirst("role"));
        Assert.False(handler.TryGetRemembered(_signer.Mint(id, lifetime: TimeSpan.FromMinutes(30)), out _)); // another token of the same user is validated in full
        Assert.False(handler.TryGetRemembered(token[..^1], out _)); // and so is a token that differs only in its end
        Assert.Equal((1L, 5L), (handler.Misses, handler.Hits));
    }

    [Fact]
    public async Task ATokenDifferingInOneCharacterOfItsSignatureIsVerifiedAndRejected()
    {
        var handler = new CachingJsonWebTokenHandler(100, TimeSpan.FromMinutes(5), _clock);
        var token = _signer.Mint();
        Assert.True((await handler.ValidateTokenAsync(token, Parameters())).IsValid);
        var last = token[^2] == 'A' ? 'B' : 'A';
        var forged = token[..^2] + last + token[^1];
        Assert.False((await handler.ValidateTokenAsync(forged, Parameters())).IsValid);
        Assert.Equal((2L, 0L), (handler.Misses, handler.Hits));
        Assert.Equal(1, handler.Count); // the rejected one is not remembered
    }

    [Fact]
    public async Task AnEntryLapsesAtTheTokensExpiryAndThenFullValidationRejectsIt()
    {
        var handler = new CachingJsonWebTokenHandler(100, TimeSpan.FromMinutes(5), _clock);
        // Valid for 2 more seconds by the real clock (full validation uses the real clock, the cache its TimeProvider).
        var token = _signer.Mint(notBefore: DateTime.UtcNow.AddMinutes(-1), lifetime: TimeSpan.FromSeconds(62));
        Assert.True((await handler.ValidateTokenAsync(token, Parameters())).IsValid);
        Assert.True((await handler.ValidateTokenAsync(token, Parameters())).IsValid);
        Assert.Equal(1L, handler.Hits);
        _clock.Now = DateTimeOffset.UtcNow.AddSeconds(3);
        await Task.Delay(TimeSpan.FromSeconds(3)); // the real clock too, so that full validation sees it expired
        Assert.False(handler.IsRemembered(token));
        Assert.False(handler.TryGetRemembered(token, out _)); // the handler's fast path lapses with the entry too
        var after = await handler.ValidateTokenAsync(token, Parameters());
        Assert.False(after.IsValid);
        Assert.IsType<SecurityTokenExpiredException>(after.Exception);
        Assert.Equal((2L, 1L), (handler.Misses, handler.Hits));
    }

    [Fact]
    public async Task AnEntryLivesAtMostTheTtlEvenForALongLivedToken()
    {
        var handler = new CachingJsonWebTokenHandler(100, TimeSpan.FromMinutes(1), _clock);
        var token = _signer.Mint(lifetime: TimeSpan.FromHours(2));
        await handler.ValidateTokenAsync(token, Parameters());
        _clock.Now += TimeSpan.FromSeconds(59);
        await handler.ValidateTokenAsync(token, Parameters());
        _clock.Now += TimeSpan.FromSeconds(2);
        await handler.ValidateTokenAsync(token, Parameters());
        Assert.Equal((2L, 1L), (handler.Misses, handler.Hits)); // verified again after the TTL
    }

    [Fact]
    public async Task AFullCacheKeepsValidatingWithoutGrowingAndSweepsExpiredEntries()
    {
        var handler = new CachingJsonWebTokenHandler(2, TimeSpan.FromMinutes(1), _clock);
        var tokens = Enumerable.Range(0, 3).Select(_ => _signer.Mint()).ToArray();
        foreach (var t in tokens) Assert.True((await handler.ValidateTokenAsync(t, Parameters())).IsValid);
        Assert.Equal(2, handler.Count);
        Assert.True((await handler.ValidateTokenAsync(tokens[2], Parameters())).IsValid);
        Assert.Equal(0L, handler.Hits); // the third was not remembered
        _clock.Now += TimeSpan.FromMinutes(2); // both entries expired: the next insertion sweeps them
        Assert.True((await handler.ValidateTokenAsync(tokens[2], Parameters())).IsValid);
        Assert.Equal(1, handler.Count);
        Assert.True((await handler.ValidateTokenAsync(tokens[2], Parameters())).IsValid);
        Assert.Equal(1L, handler.Hits);
    }

    [Fact]
    public async Task SizeZeroTurnsTheCacheOff()
    {
        var handler = new CachingJsonWebTokenHandler(0, TimeSpan.FromMinutes(1), _clock);
        var token = _signer.Mint();
        for (var i = 0; i < 3; i++) Assert.True((await handler.ValidateTokenAsync(token, Parameters())).IsValid);
        Assert.Equal((3L, 0L, 0), (handler.Misses, handler.Hits, handler.Count));
    }

    [Fact]
    public async Task TheServicePipelineUsesTheCacheAndStillRejectsWhatItMust()
    {
        await using var app = await TestApp.StartAsync(_signer.AuthSettings(), AuthenticationTests.MapMe);
        var client = app.Client();
        var handler = app.Services.GetRequiredService<CachingJsonWebTokenHandler>();
        async Task<HttpStatusCode> MeAsync(string token)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/me");
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            using var response = await client.SendAsync(request);
            return response.StatusCode;
        }
        var id = Guid.NewGuid();
        var token = _signer.Mint(id);
        Assert.Equal(HttpStatusCode.OK, await MeAsync(token));
        using (var request = new HttpRequestMessage(HttpMethod.Get, "/me"))
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            using var response = await client.SendAsync(request);
            Assert.Equal(id, (await response.Content.ReadFromJsonAsync<AuthenticationTests.Me>())!.Id);
        }
        Assert.Equal(1L, handler.Hits);
        // A token whose sub is not a user id is valid to the handler (and may be cached) but still refused on every request.
        var odd = _signer.Mint(subject: "admin");
        Assert.Equal(HttpStatusCode.Unauthorized, await MeAsync(odd));
        Assert.Equal(HttpStatusCode.Unauthorized, await MeAsync(odd));
        Assert.Equal(HttpStatusCode.Unauthorized, await MeAsync(token + "x"));
    }

    [Fact]
    public async Task WhatOneRequestAddsToItsPrincipalDoesNotReachTheNextRequestWithTheSameToken()
    {
        await using var app = await TestApp.StartAsync(_signer.AuthSettings(), a =>
        {
            AuthenticationTests.MapMe(a);
            a.MapGet("/escalate", (ClaimsPrincipal user) =>
            {
                user.AddIdentity(new ClaimsIdentity([new Claim("role", "admin")], "extra", "name", "role"));
                return user.IsInRole("admin") ? "admin now" : "no";
            }).RequireAuthorization();
        });
        var client = app.Client();
        var token = _signer.Mint();
        async Task<HttpResponseMessage> GetAsync(string path)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, path);
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            return await client.SendAsync(request);
        }
        Assert.Equal(HttpStatusCode.OK, (await GetAsync("/me")).StatusCode); // validated and remembered
        Assert.Equal("admin now", await (await GetAsync("/escalate")).Content.ReadAsStringAsync()); // answered from the cache
        Assert.Equal(HttpStatusCode.Forbidden, (await GetAsync("/admin")).StatusCode);
        Assert.Equal(2L, app.Services.GetRequiredService<CachingJsonWebTokenHandler>().Hits);
    }
}
