using System.Net.Http.Headers;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace FlashSale.TestSupport;

/// <summary>
/// A service under test with the given settings. <see cref="StartKestrel"/> puts it on a real loopback socket (real HTTP,
/// as buyers reach it); settings go in through UseSetting so Program sees them while it registers services.
/// </summary>
public sealed class ServiceHost<TProgram>(IDictionary<string, string?> settings) : WebApplicationFactory<TProgram> where TProgram : class
{
    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Testing");
        foreach (var (key, value) in settings) builder.UseSetting(key, value);
    }

    public static ServiceHost<TProgram> StartKestrel(IDictionary<string, string?> settings)
    {
        var host = new ServiceHost<TProgram>(settings);
        host.UseKestrel(0);
        host.StartServer();
        return host;
    }

    /// <summary>The loopback address Kestrel listens on (after <see cref="StartKestrel"/>).</summary>
    public Uri BaseAddress => new(Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>().Features.Get<IServerAddressesFeature>()!.Addresses
        .First().Replace("[::]", "127.0.0.1").Replace("localhost", "127.0.0.1"));

    public HttpClient Client(string? token = null, int connections = 256)
    {
        var client = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = connections }) { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
        if (token is not null) client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return client;
    }
}
