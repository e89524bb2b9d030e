using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.IdentityModel.JsonWebTokens;

namespace FlashSale.LoadTest;

public sealed record Buyer(string Username, Guid UserId, string Token, DateTimeOffset ExpiresAt);

/// <summary>
/// Registers and logs in the load tool's users through the users service, before the sale, as real buyers would.
/// Valid tokens are cached in a file and reused by later runs (each login costs a PBKDF2 verification on the server).
/// </summary>
public sealed class Buyers(Uri usersUrl, string cacheFile, int parallelism = 4)
{
    static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = false };
    sealed record TokenResponse(string AccessToken, DateTimeOffset ExpiresAt);

    public static string Password(string username) => $"lt-{username}-Secret!";

    /// <summary>Buyers <c>{prefix}-000001</c>... plus optional extra names (the admin), each with a token valid for at least <paramref name="minValidity"/>.</summary>
    public async Task<IReadOnlyDictionary<string, Buyer>> EnsureAsync(string prefix, int count, IEnumerable<string> extra, TimeSpan minValidity, CancellationToken ct)
    {
        var names = Enumerable.Range(1, count).Select(i => $"{prefix}-{i:D6}").Concat(extra).Distinct().ToList();
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = parallelism * 2 }) { BaseAddress = usersUrl, Timeout = TimeSpan.FromSeconds(60) };
        var kids = await CurrentKeyIdsAsync(http, ct);
        var cache = Load();
        var now = DateTimeOffset.UtcNow;
        var valid = new ConcurrentDictionary<string, Buyer>(
            cache.Where(b => b.ExpiresAt - now > minValidity && kids.Contains(new JsonWebToken(b.Token).Kid ?? "")).ToDictionary(b => b.Username));
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

    static async Task<HashSet<string>> CurrentKeyIdsAsync(HttpClient http, CancellationToken ct)
    {
        using var doc = JsonDocument.Parse(await http.GetStringAsync("/.well-known/jwks.json", ct));
        return [.. doc.RootElement.GetProperty("keys").EnumerateArray().Select(k => k.TryGetProperty("kid", out var kid) ? kid.GetString() ?? "" : "")];
    }

    /// <summary>
    /// Each register and login costs one PBKDF2 run on the server. A registration answers with a token, so a new user costs
    /// one run (the login is only for users that exist already); a known one costs one.
    /// </summary>
    static async Task<(Buyer, bool)> LoginOrRegisterAsync(HttpClient http, string username, bool registerFirst, CancellationToken ct)
    {
        if (registerFirst && await RegisterAsync(http, username, ct) is { } signedIn) return (signedIn, true);
        for (var attempt = 0; ; attempt++)
        {
            using var login = await http.PostAsJsonAsync("/api/users/login", new { username, password = Password(username) }, Json, ct);
            if (login.IsSuccessStatusCode)
            {
                var t = (await login.Content.ReadFromJsonAsync<TokenResponse>(Json, ct))!;
                var sub = Guid.Parse(new JsonWebToken(t.AccessToken).Subject);
                return (new Buyer(username, sub, t.AccessToken, t.ExpiresAt), false);
            }
            if (login.StatusCode == HttpStatusCode.TooManyRequests && attempt < 20)
            {
                var wait = login.Headers.RetryAfter?.Delta ?? TimeSpan.FromSeconds(5);
                await Task.Delay(wait, ct);
                continue;
            }
            // Not known after all (the cache outlived the users database): register, or log in again if someone just did.
            if (login.StatusCode == HttpStatusCode.Unauthorized && !registerFirst)
            {
                if (await RegisterAsync(http, username, ct) is { } registered) return (registered, true);
                registerFirst = true;
                continue;
            }
            throw new InvalidOperationException($"login of {username} failed: {(int)login.StatusCode} {await login.Content.ReadAsStringAsync(ct)}");
        }
    }

    sealed record Registered(Guid Id, TokenResponse Token);

    /// <summary>The new user, signed in with the token the registration answered with; null when the user existed already.</summary>
    static async Task<Buyer?> RegisterAsync(HttpClient http, string username, CancellationToken ct)
    {
        using var register = await http.PostAsJsonAsync("/api/users",
            new { username, email = $"{username}@loadtest.flashsale.local", password = Password(username) }, Json, ct);
        if (register.IsSuccessStatusCode)
        {
            var r = (await register.Content.ReadFromJsonAsync<Registered>(Json, ct))!;
            return new Buyer(username, r.Id, r.Token.AccessToken, r.Token.ExpiresAt);
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
