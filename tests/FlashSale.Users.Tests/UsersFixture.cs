using System.Net.Http.Headers;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Configuration;
using Npgsql;

namespace FlashSale.Users.Tests;

/// <summary>The users service on a TestServer, pointed at a fresh database on the shared PostgreSQL.</summary>
public class UsersFactory(IDictionary<string, string?> settings) : WebApplicationFactory<Program>
{
    public const string AdminUsername = "Chief";
    public const string AdminPassword = "chief-password-1";

    public IDictionary<string, string?> Settings { get; } = settings;

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Testing");
        builder.ConfigureAppConfiguration((_, configuration) => configuration.AddInMemoryCollection(Settings));
    }

    /// <summary>Settings for a test host: its own database and signing key, fast (minimum) PBKDF2 and lenient login limits.</summary>
    public static Dictionary<string, string?> DefaultSettings(string connectionString, string signingKeyPem) => new()
    {
        // A bounded pool that waits longer: the shared PostgreSQL (max_connections 400) serves every engineer's tests at once.
        ["ConnectionStrings:Postgres"] = new NpgsqlConnectionStringBuilder(connectionString) { MaxPoolSize = 40, Timeout = 60 }.ConnectionString,
        ["Auth:SigningKeyPem"] = signingKeyPem,
        ["Users:Admin:Username"] = AdminUsername,
        ["Users:Admin:Password"] = AdminPassword,
        ["Users:PasswordHashIterations"] = "100000",
        ["Users:LoginRateLimit:PerUsername"] = "1000",
        ["Users:LoginRateLimit:PerAddress"] = "100000",
        ["Users:LoginRateLimit:PerUsernameAndAddress"] = "1000",
        ["Users:RegistrationRateLimit:PerAddress"] = "100000",
        ["Users:RegistrationRateLimit:Global"] = "100000",
        ["Users:PasswordHashQueueLimit"] = "100000",
        ["Wallet:InitialBalance"] = "1000",
        ["Wallet:Currency"] = "EUR",
        ["Logging:LogLevel:Default"] = "Warning",
    };
}

public sealed class UsersFixture : IAsyncLifetime
{
    public string ConnectionString { get; private set; } = "";
    public string SigningKeyPem { get; } = TestTokens.NewSigningKeyPem();
    public UsersFactory Factory { get; private set; } = null!;
    public HttpClient Client { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        ConnectionString = await Infra.CreateDatabaseAsync("users");
        Factory = new UsersFactory(UsersFactory.DefaultSettings(ConnectionString, SigningKeyPem));
        Client = Factory.CreateClient();
    }

    public async Task DisposeAsync() => await Factory.DisposeAsync();

    public async Task<long> CountAsync(string table)
    {
        await using var dataSource = NpgsqlDataSource.Create(ConnectionString);
        await using var command = dataSource.CreateCommand($"SELECT count(*) FROM {table}");
        return (long)(await command.ExecuteScalarAsync())!;
    }

    public static string Unique(string prefix = "u") => prefix + Guid.NewGuid().ToString("N")[..10];

    public Task<UserResponse> RegisterAsync(string username, string? email = null, string password = UsersClient.Password) =>
        UsersClient.RegisterAsync(Client, username, email, password);

    public Task<string> LoginAsync(string username, string password = UsersClient.Password) => UsersClient.LoginAsync(Client, username, password);

    /// <summary>Registers a new user and logs in: (user, bearer token).</summary>
    public async Task<(UserResponse User, string Token)> NewUserAsync(string? username = null)
    {
        var user = await RegisterAsync(username ?? Unique());
        return (user, await LoginAsync(user.Username));
    }

    public Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, string? token, object? body = null) =>
        UsersClient.SendAsync(Client, method, path, token, body);
}

/// <summary>Calls of the users API for any host under test (the shared fixture's, or a test's own).</summary>
public static class UsersClient
{
    public const string Password = "correct horse battery";

    public static async Task<UserResponse> RegisterAsync(HttpClient client, string username, string? email = null, string password = Password)
    {
        var response = await client.PostAsJsonAsync("/api/users", new { username, email = email ?? $"{username}@example.com", password });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<UserResponse>())!;
    }

    public static async Task<string> LoginAsync(HttpClient client, string username, string password = Password)
    {
        var response = await client.PostAsJsonAsync("/api/users/login", new { username, password });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<TokenResponse>())!.AccessToken;
    }

    public static Task<HttpResponseMessage> SendAsync(HttpClient client, HttpMethod method, string path, string? token, object? body = null)
    {
        var request = new HttpRequestMessage(method, path);
        if (token is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        if (body is not null) request.Content = JsonContent.Create(body);
        return client.SendAsync(request);
    }
}
