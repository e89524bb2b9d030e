using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Configuration;

namespace FlashSale.ServiceDefaults.Tests;

/// <summary>A minimal service built with AddServiceDefaults on a TestServer (Development environment, to prove nothing leaks there).</summary>
static class TestApp
{
    public static async Task<WebApplication> StartAsync(
        IEnumerable<KeyValuePair<string, string?>> settings,
        Action<WebApplication> map,
        Action<WebApplicationBuilder>? configure = null,
        bool kestrel = false)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = "Development" });
        builder.Configuration.AddInMemoryCollection(settings);
        if (kestrel) builder.WebHost.UseUrls("http://127.0.0.1:0");
        else builder.WebHost.UseTestServer();
        builder.AddServiceDefaults();
        configure?.Invoke(builder);
        var app = builder.Build();
        app.MapDefaultEndpoints();
        map(app);
        await app.StartAsync();
        return app;
    }

    public static HttpClient Client(this WebApplication app) => app.GetTestServer().CreateClient();
}
