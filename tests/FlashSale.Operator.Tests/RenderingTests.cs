using FlashSale.Operator.Controller;
using FlashSale.Operator.Entities;
using FlashSale.Operator.Kubernetes;
using FlashSale.Operator.Local;
using FlashSale.TestSupport;
using k8s;
using k8s.Models;

namespace FlashSale.Operator.Tests;

/// <summary>What the operator renders for examples/flashsale.yaml, and the same rendering made local.</summary>
public sealed class RenderingTests
{
    static V1Alpha1FlashSale Example()
    {
        var fs = ResourceFile.ToResource(ResourceFile.LoadTree(Path.Combine(Infra.RepoRoot, "examples", "flashsale.yaml")), "example");
        Assert.Empty(SaleMapping.Map(fs).Errors);
        return fs;
    }

    static IList<V1EnvVar> EnvOf(V1Alpha1FlashSale fs, string service) =>
        Children.Deployment(fs, SaleService.All.Single(s => s.Name == service)).Spec!.Template!.Spec!.Containers![0].Env!;

    [Fact]
    public void EveryServiceGetsWhatTheBuyersLifecycleNeeds()
    {
        var fs = Example();
        var users = $"http://{fs.Name()}-users.{fs.Namespace()}.svc";
        Assert.Contains(EnvOf(fs, "orders"), e => e.Name == "Orders__Payment__UsersUrl" && e.Value == users);
        Assert.Contains(EnvOf(fs, "users"), e => e.Name == "Users__Admin__Username" && e.ValueFrom!.SecretKeyRef!.Name == "flashsale-admin" && e.ValueFrom.SecretKeyRef.Key == "username");
        Assert.Contains(EnvOf(fs, "users"), e => e.Name == "Users__Admin__Password" && e.ValueFrom!.SecretKeyRef!.Key == "password");
        var notifications = EnvOf(fs, "notifications");
        Assert.Contains(notifications, e => e.Name == "Notifications__Delivery" && e.Value == "smtp");
        Assert.Contains(notifications, e => e.Name == "Notifications__Smtp__Host" && e.ValueFrom!.SecretKeyRef!.Name == "flashsale-smtp" && e.ValueFrom.SecretKeyRef.Optional is null);
        Assert.Contains(notifications, e => e.Name == "Notifications__Smtp__Password" && e.ValueFrom!.SecretKeyRef!.Optional == true);
        foreach (var service in SaleService.All)
        {
            Assert.Equal(Children.DefaultTrustedProxyNetworks,
                EnvOf(fs, service.Name).Where(e => e.Name!.StartsWith("Http__ForwardedHeaders__KnownNetworks__", StringComparison.Ordinal)).Select(e => e.Value));
        }
    }

    [Fact]
    public void WithoutAnAdminSecretNobodyIsAdminAndWithoutSmtpMailsGoToTheLog()
    {
        var fs = Example();
        fs.Spec!.Auth.AdminSecretRef = null;
        fs.Spec.Notifications = null;
        Assert.DoesNotContain(EnvOf(fs, "users"), e => e.Name!.StartsWith("Users__Admin__", StringComparison.Ordinal));
        Assert.DoesNotContain(EnvOf(fs, "notifications"), e => e.Name!.StartsWith("Notifications__", StringComparison.Ordinal));
    }

    [Fact]
    public void TheIngressRoutesEveryApiOfTheSaleIncludingNotifications()
    {
        var fs = Example();
        var paths = Children.Ingress(fs).Spec!.Rules![0].Http!.Paths!.ToDictionary(p => p.Path!, p => p.Backend!.Service!.Name);
        Assert.Equal($"{fs.Name()}-notifications", paths["/api/notifications"]);
        Assert.Equal($"{fs.Name()}-users", paths["/api/users"]);
        Assert.Equal($"{fs.Name()}-orders", paths["/api/orders"]);
    }

    [Fact]
    public void ExtraEnvIsRenderedButMayNotOverrideWhatTheOperatorSets()
    {
        var fs = Example();
        fs.Spec!.Services!.Users!.Env = [new() { Name = "Users__PasswordHashIterations", Value = "300000" }];
        Assert.Empty(SaleMapping.Map(fs).Errors);
        Assert.Contains(EnvOf(fs, "users"), e => e.Name == "Users__PasswordHashIterations" && e.Value == "300000");

        fs.Spec.Services.Orders!.Env = [new() { Name = "Orders__Payment__UsersUrl", Value = "http://evil" }, new() { Name = "9bad" }];
        var errors = SaleMapping.Map(fs).Errors;
        Assert.Contains(errors, e => e.Contains("spec.services.orders.env[0].name 'Orders__Payment__UsersUrl' is set by the operator", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("spec.services.orders.env[1].name", StringComparison.Ordinal));
    }

    [Fact]
    public void ATrustedProxyNetworkMustBeCidr()
    {
        var fs = Example();
        fs.Spec!.Ingress = new IngressSpec { TrustedProxyNetworks = ["10.244.0.0/16", "10.0.0.300/8"] };
        Assert.Contains(SaleMapping.Map(fs).Errors, e => e.StartsWith("spec.ingress.trustedProxyNetworks[1] '10.0.0.300/8'", StringComparison.Ordinal));
        fs.Spec.Ingress.TrustedProxyNetworks = ["10.244.0.0/16"];
        Assert.Equal(["10.244.0.0/16"], EnvOf(fs, "orders").Where(e => e.Name!.StartsWith("Http__ForwardedHeaders", StringComparison.Ordinal)).Select(e => e.Value));
    }

    [Fact]
    public void LocallyEachProcessGetsTheRenderedEnvWithSecretsFromFilesAndClusterAddressesOnLoopback()
    {
        var fs = Example();
        var sale = SaleMapping.Map(fs).Sale!;
        var root = Path.Combine(Path.GetTempPath(), "flashsale-render-" + Guid.NewGuid().ToString("N"));
        try
        {
            var secrets = Path.Combine(root, "secrets");
            foreach (var (path, value) in new[]
            {
                ("flashsale-postgres/connectionString", "Host=db"), ("flashsale-redis/connectionString", "redis:1"), ("flashsale-rabbitmq/uri", "amqp://mq/"),
                ("flashsale-signing-key/key.pem", "PEM"), ("flashsale-admin/username", "admin\n"), ("flashsale-admin/password", "secret-password"),
                ("flashsale-smtp/host", "127.0.0.1"), ("flashsale-smtp/port", "2525"),
            })
            {
                Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(secrets, path))!);
                File.WriteAllText(Path.Combine(secrets, path), value);
            }

            var processes = LocalPlatform.Render(fs, sale, secrets, Path.Combine(root, "config")).ToDictionary(p => p.Service);
            var orders = processes["orders"].Environment;
            Assert.Equal("http://127.0.0.1:5101", orders["Orders__Payment__UsersUrl"]);
            Assert.Equal("http://127.0.0.1:5101/.well-known/jwks.json", orders["Auth__JwksUrl"]);
            Assert.Equal("http://127.0.0.1:5102", orders["ASPNETCORE_URLS"]);
            Assert.Equal("Host=db", orders["ConnectionStrings__Postgres"]);
            Assert.Equal("admin", processes["users"].Environment["Users__Admin__Username"]);
            Assert.False(processes["notifications"].Environment.ContainsKey("Notifications__Smtp__Password")); // optional and absent
            Assert.True(File.Exists(orders["FlashSale__SaleFile"]));
            Assert.Contains("console-x", File.ReadAllText(orders["FlashSale__SaleFile"]));

            // What a cluster would refuse to start (a missing Secret key) is refused locally too, naming the file.
            File.Delete(Path.Combine(secrets, "flashsale-admin", "password"));
            var e = Assert.Throws<LocalPlatformException>(() => LocalPlatform.Render(fs, sale, secrets, Path.Combine(root, "config")));
            Assert.Contains(e.Errors, m => m.Contains("Users__Admin__Password", StringComparison.Ordinal) && m.Contains(Path.Combine("flashsale-admin", "password"), StringComparison.Ordinal));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public void RenderPrintsEveryChildOfTheExampleAsYamlWithoutACluster()
    {
        var output = new StringWriter();
        var error = new StringWriter();
        Assert.Equal(0, RenderCommand.Run(["--file", Path.Combine(Infra.RepoRoot, "examples", "flashsale.yaml"), "--namespace", "shop"], output, error));
        var documents = new YamlDotNet.RepresentationModel.YamlStream();
        documents.Load(new StringReader(output.ToString()));
        var kinds = documents.Documents.Select(d => ((YamlDotNet.RepresentationModel.YamlMappingNode)d.RootNode)["kind"].ToString()).ToList();
        Assert.Equal(["ConfigMap", "Deployment", "Service", "PodDisruptionBudget", "Deployment", "Service", "PodDisruptionBudget",
            "Deployment", "Service", "PodDisruptionBudget", "HorizontalPodAutoscaler", "Deployment", "Service", "PodDisruptionBudget",
            "Ingress", "ServiceMonitor"], kinds);
        Assert.All(documents.Documents, d => Assert.Equal("shop", ((YamlDotNet.RepresentationModel.YamlMappingNode)((YamlDotNet.RepresentationModel.YamlMappingNode)d.RootNode)["metadata"])["namespace"].ToString()));
        // Env values stay strings (a plain 8080 would be an integer, which the API server refuses).
        Assert.Contains("value: \"8080\"", output.ToString());
        Assert.Equal(output.ToString(), Render()); // stable

        static string Render()
        {
            var again = new StringWriter();
            RenderCommand.Run(["--file", Path.Combine(Infra.RepoRoot, "examples", "flashsale.yaml"), "--namespace", "shop"], again, TextWriter.Null);
            return again.ToString();
        }
    }

    [Fact]
    public void RenderRefusesAnInvalidSaleNamingTheField()
    {
        var file = Path.Combine(Path.GetTempPath(), $"render-{Guid.NewGuid():N}.yaml");
        File.WriteAllText(file, File.ReadAllText(Path.Combine(Infra.RepoRoot, "examples", "flashsale.yaml"))
            .Replace("    users:\n      replicas: 2", "    users:\n      replicas: 2\n      env: [{ name: Users__Admin__Password, value: x }]", StringComparison.Ordinal));
        try
        {
            var error = new StringWriter();
            Assert.Equal(2, RenderCommand.Run(["--file", file], TextWriter.Null, error));
            Assert.Contains("spec.services.users.env[0].name 'Users__Admin__Password' is set by the operator", error.ToString());
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void RenderRefusesAResourceThatIsNotAQuantityNamingTheField()
    {
        var file = Path.Combine(Path.GetTempPath(), $"render-{Guid.NewGuid():N}.yaml");
        File.WriteAllText(file, File.ReadAllText(Path.Combine(Infra.RepoRoot, "examples", "flashsale.yaml"))
            .Replace("    users:\n      replicas: 2", "    users:\n      replicas: 2\n      resources: { limits: { memory: lots } }", StringComparison.Ordinal));
        try
        {
            var error = new StringWriter();
            Assert.Equal(2, RenderCommand.Run(["--file", file], TextWriter.Null, error));
            Assert.Contains("spec.services.users.resources.limits.memory: 'lots' is not a quantity", error.ToString());
        }
        finally
        {
            File.Delete(file);
        }
    }
}
