using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.IdentityModel.JsonWebTokens;

namespace FlashSale.LoadTest;

public sealed record Buyer(string Username, Guid UserId, string Token, DateTimeOffset ExpiresAt)
{
    /// <summary>The address the buyer registered with (where the sale's mails go).</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public string Email => Buyers.Email(Username);
}

/// <summary>
/// Registers and logs in the load tool's users through the users service, before the sale, as real buyers would.
/// Valid tokens are cached in a file and reused by later runs (each login costs a PBKDF2 verification on the server).
/// </summary>
public sealed class Buyers(Uri usersUrl, string cacheFile, int parallelism = 4)
{
    static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = false };
    sealed record TokenResponse(string AccessToken);

    public static string Password(string username) => $"lt-{username}-Secret!";
    public static string Email(string username) => $"{username}@loadtest.flashsale.local";

    /// <summary>Buyers <c>{prefix}-000001</c>..., each with a token valid for at least <paramref name="minValidity"/> (or half its lifetime if shorter).</summary>
    public async Task<IReadOnlyDictionary<string, Buyer>> EnsureAsync(string prefix, int count, TimeSpan minValidity, CancellationToken ct)
    {
        var names = Enumerable.Range(1, count).Select(i => $"{prefix}-{i:D6}").ToList();
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = parallelism * 2 }) { BaseAddress = usersUrl, Timeout = TimeSpan.FromSeconds(60) };
        var kids = await CurrentKeyIdsAsync(http, ct);
        var cache = Load();
        var now = DateTimeOffset.UtcNow;
        var valid = new ConcurrentDictionary<string, Buyer>(cache.Where(b => Reusable(b.Token, now, minValidity, kids)).ToDictionary(b => b.Username));
        var missing = names.Where(n => !valid.ContainsKey(n)).ToList();
        // Users in the cache exist already (log in only); the others are registered first (409 when they exist: then log in).
        var known = cache.Select(b => b.Username).ToHashSet();
        Console.Error.WriteLine($"  buyers: {names.Count - missing.Count} cached tokens still valid, {missing.Count} to log in (register if new) at {usersUrl}");
        if (missing.Count > 0)
        {
            var sw = Stopwatch.StartNew();
            long done = 0, registered = 0;
            using var progress = new Timer(_ => Console.Error.Write($"\r  buyers: {Interlocked.Read(ref done)}/{missing.Count} logged in ({Interlocked.Read(ref registered)} registered) {sw.Elapsed.TotalSeconds:F0}s   "),
                null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
            const int saveEvery = 20;
            await Parallel.ForEachAsync(missing, new ParallelOptions { MaxDegreeOfParallelism = parallelism, CancellationToken = ct }, async (name, token) =>
            {
                var (buyer, isNew) = await LoginOrRegisterAsync(http, name, registerFirst: !known.Contains(name), token);
                valid[name] = buyer;
                if (isNew) Interlocked.Increment(ref registered);
                if (Interlocked.Increment(ref done) % saveEvery == 0) Save(valid.Values);
            });
            Console.Error.WriteLine($"\r  buyers: {missing.Count} logged in ({registered} newly registered) in {sw.Elapsed.TotalSeconds:F1}s          ");
            Save(valid.Values);
        }
        return names.ToDictionary(n => n, n => valid[n]);
    }

    /// <summary>
    /// A cached token is reused while its own expiry (the token's exp, whatever lifetime the users service gives, 1 h or 12 h)
    /// leaves the run <paramref name="minValidity"/>, or half its lifetime when that is shorter; it must be signed by a key the
    /// users service still publishes and carry the email claim (the orders service addresses the buyer's mails from it).
    /// </summary>
    public static bool Reusable(string token, DateTimeOffset now, TimeSpan minValidity, IReadOnlySet<string> currentKeyIds)
    {
        JsonWebToken jwt;
        try { jwt = new JsonWebToken(token); }
        catch (ArgumentException) { return false; }
        if (!jwt.TryGetPayloadValue<long>("exp", out var exp)) return false;
        var expires = DateTimeOffset.FromUnixTimeSeconds(exp);
        var lifetime = jwt.TryGetPayloadValue<long>("iat", out var iat) ? expires - DateTimeOffset.FromUnixTimeSeconds(iat) : minValidity * 2;
        var needed = lifetime / 2 < minValidity ? lifetime / 2 : minValidity;
        return expires - now > needed && currentKeyIds.Contains(jwt.Kid ?? "") && jwt.TryGetPayloadValue<string>("email", out var email) && !string.IsNullOrEmpty(email);
    }

    static async Task<HashSet<string>> CurrentKeyIdsAsync(HttpClient http, CancellationToken ct)
    {
        using var doc = JsonDocument.Parse(await http.GetStringAsync("/.well-known/jwks.json", ct));
        return [.. doc.RootElement.GetProperty("keys").EnumerateArray().Select(k => k.TryGetProperty("kid", out var kid) ? kid.GetString() ?? "" : "")];
    }

    /// <summary>Logs a user in (the admin: bootstrapped by the users service from its configuration, never registered here).</summary>
    public static async Task<Buyer> LoginAsync(Uri usersUrl, string username, string password, CancellationToken ct)
    {
        using var http = new HttpClient { BaseAddress = usersUrl, Timeout = TimeSpan.FromSeconds(60) };
        return await TryLoginAsync(http, username, password, ct)
            ?? throw new InvalidOperationException($"login of {username} at {usersUrl} failed: 401 INVALID_CREDENTIALS (is it the users service's Users:Admin credential?)");
    }

    /// <summary>The signed-in user, or null when the users service does not know the username and password (401); waits out 429s.</summary>
    static async Task<Buyer?> TryLoginAsync(HttpClient http, string username, string password, CancellationToken ct)
    {
        for (var attempt = 0; ; attempt++)
        {
            using var login = await http.PostAsJsonAsync("/api/users/login", new { username, password }, Json, ct);
            if (login.IsSuccessStatusCode)
            {
                var t = (await login.Content.ReadFromJsonAsync<TokenResponse>(Json, ct))!;
                var jwt = new JsonWebToken(t.AccessToken);
                return new Buyer(username, Guid.Parse(jwt.Subject), t.AccessToken, new DateTimeOffset(jwt.ValidTo, TimeSpan.Zero));
            }
            if (login.StatusCode == HttpStatusCode.TooManyRequests && attempt < 20)
            {
                await Task.Delay(login.Headers.RetryAfter?.Delta ?? TimeSpan.FromSeconds(5), ct);
                continue;
            }
            if (login.StatusCode == HttpStatusCode.Unauthorized) return null;
            throw new InvalidOperationException($"login of {username} failed: {(int)login.StatusCode} {await login.Content.ReadAsStringAsync(ct)}");
        }
    }

    /// <summary>
    /// Each register and login costs one PBKDF2 run on the server. A registration answers with a token, so a new user costs
    /// one run (the login is only for users that exist already); a known one costs one.
    /// </summary>
    static async Task<(Buyer, bool)> LoginOrRegisterAsync(HttpClient http, string username, bool registerFirst, CancellationToken ct)
    {
        if (registerFirst && await RegisterAsync(http, username, ct) is { } signedIn) return (signedIn, true);
        if (await TryLoginAsync(http, username, Password(username), ct) is { } buyer) return (buyer, false);
        // Not known after all (the cache outlived the users database): register, or log in again if someone just did.
        if (await RegisterAsync(http, username, ct) is { } registered) return (registered, true);
        return (await TryLoginAsync(http, username, Password(username), ct)
            ?? throw new InvalidOperationException($"login of {username} failed: 401 although the username is taken (another password?)"), false);
    }

    sealed record Registered(Guid Id, TokenResponse Token);

    /// <summary>The new user, signed in with the token the registration answered with; null when the user existed already.</summary>
    static async Task<Buyer?> RegisterAsync(HttpClient http, string username, CancellationToken ct)
    {
        using var register = await http.PostAsJsonAsync("/api/users",
            new { username, email = Email(username), password = Password(username) }, Json, ct);
        if (register.IsSuccessStatusCode)
        {
            var r = (await register.Content.ReadFromJsonAsync<Registered>(Json, ct))!;
            return new Buyer(username, r.Id, r.Token.AccessToken, new DateTimeOffset(new JsonWebToken(r.Token.AccessToken).ValidTo, TimeSpan.Zero));
        }
        if (register.StatusCode == HttpStatusCode.Conflict) return null;
        throw new InvalidOperationException($"registering {username} failed: {(int)register.StatusCode} {await register.Content.ReadAsStringAsync(ct)}");
    }

    List<Buyer> Load()
    {
        try { return File.Exists(cacheFile) ? JsonSerializer.Deserialize<List<Buyer>>(File.ReadAllText(cacheFile), Json) ?? [] : []; }
        catch (JsonException) { return []; }
    }

    readonly Lock _saveLock = new();

    void Save(IEnumerable<Buyer> buyers)
    {
        lock (_saveLock)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(cacheFile))!);
            var temp = cacheFile + ".tmp";
            File.WriteAllText(temp, JsonSerializer.Serialize(buyers.OrderBy(b => b.Username, StringComparer.Ordinal).ToList(), Json));
            File.Move(temp, cacheFile, overwrite: true);
        }
    }
}
