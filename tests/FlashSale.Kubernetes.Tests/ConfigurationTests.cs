using FlashSale.Kubernetes.Fake;
using FlashSale.Kubernetes.Models;

namespace FlashSale.Kubernetes.Tests;

public sealed class ConfigurationTests : IDisposable
{
    private readonly DirectoryInfo directory = Directory.CreateTempSubdirectory("flashsale-kubeconfig-");

    public void Dispose() => directory.Delete(recursive: true);

    [Fact]
    public void TheCurrentContextOrANamedOneSelectsServerNamespaceAndToken()
    {
        var path = Write("config", """
            apiVersion: v1
            kind: Config
            current-context: kind-flashsale
            clusters:
            - name: kind-flashsale
              cluster:
                server: https://127.0.0.1:6443
                insecure-skip-tls-verify: true
            - name: staging
              cluster:
                server: https://staging.example:443
                tls-server-name: kubernetes.default
            contexts:
            - name: kind-flashsale
              context: { cluster: kind-flashsale, user: dev, namespace: shop }
            - name: staging
              context: { cluster: staging, user: deployer }
            users:
            - name: dev
              user: { token: dev-token }
            - name: deployer
              user: { username: deployer, password: secret }
            """);

        var current = KubernetesClientConfiguration.BuildConfigFromConfigFile(path);
        Assert.Equal(new Uri("https://127.0.0.1:6443"), current.Host);
        Assert.Equal("shop", current.Namespace);
        Assert.Equal("dev-token", current.AccessToken);
        Assert.True(current.SkipTlsVerify);
        Assert.Equal("kind-flashsale", current.CurrentContext);

        var named = KubernetesClientConfiguration.BuildConfigFromConfigFile(path, "staging");
        Assert.Equal(new Uri("https://staging.example:443"), named.Host);
        Assert.Null(named.Namespace);
        Assert.Null(named.AccessToken);
        Assert.Equal("deployer", named.Username);
        Assert.Equal("kubernetes.default", named.TlsServerName);
        Assert.False(named.SkipTlsVerify);
    }

    [Fact]
    public void AMissingContextIsAnErrorThatNamesTheContext()
    {
        var path = Write("config", """
            current-context: kind-flashsale
            clusters: [ { name: c, cluster: { server: "https://127.0.0.1:6443" } } ]
            contexts: [ { name: kind-flashsale, context: { cluster: c, user: u } } ]
            users: [ { name: u, user: { token: t } } ]
            """);

        var error = Assert.Throws<KubeConfigException>(() => KubernetesClientConfiguration.BuildConfigFromConfigFile(path, "prod-eu"));

        Assert.Contains("'prod-eu'", error.Message);
        Assert.Contains("kind-flashsale", error.Message);
        Assert.Contains(path, error.Message);
    }

    [Fact]
    public void AContextNamingAMissingUserOrAnExecPluginIsAnErrorThatSaysWhich()
    {
        var missingUser = Write("missing-user", """
            current-context: x
            clusters: [ { name: c, cluster: { server: "https://127.0.0.1:6443" } } ]
            contexts: [ { name: x, context: { cluster: c, user: ghost } } ]
            """);
        Assert.Contains("'ghost'", Assert.Throws<KubeConfigException>(() => KubernetesClientConfiguration.BuildConfigFromConfigFile(missingUser)).Message);

        var exec = Write("exec", """
            current-context: x
            clusters: [ { name: c, cluster: { server: "https://127.0.0.1:6443" } } ]
            contexts: [ { name: x, context: { cluster: c, user: cloud } } ]
            users: [ { name: cloud, user: { exec: { apiVersion: client.authentication.k8s.io/v1, command: aws } } } ]
            """);
        Assert.Contains("exec", Assert.Throws<KubeConfigException>(() => KubernetesClientConfiguration.BuildConfigFromConfigFile(exec)).Message);
    }

    [Fact]
    public async Task ACertificateUserWithEmbeddedDataReachesTheServerOverVerifiedTls()
    {
        await using var fake = await StartTlsFakeAsync();
        var path = Write("config", $$"""
            current-context: tls
            clusters:
            - name: tls
              cluster:
                server: {{fake.BaseAddress}}
                certificate-authority-data: {{TestCertificates.Base64(TestCertificates.Authority.CertificatePem)}}
            contexts:
            - name: tls
              context: { cluster: tls, user: admin }
            users:
            - name: admin
              user:
                client-certificate-data: {{TestCertificates.Base64(TestCertificates.Client.CertificatePem)}}
                client-key-data: {{TestCertificates.Base64(TestCertificates.Client.KeyPem)}}
            """);

        using var client = new KubernetesClient(KubernetesClientConfiguration.BuildConfigFromConfigFile(path));
        await client.CreateAsync(TestKit.ConfigMap("over-tls"));

        var request = fake.Requests.Last();
        Assert.Equal("create", request.Verb);
        Assert.Contains("CN=flashsale-operator-test", request.ClientCertificateSubject);
        Assert.Null(request.Authorization);
    }

    [Fact]
    public async Task CertificateFilesAreReadRelativeToTheKubeconfig()
    {
        await using var fake = await StartTlsFakeAsync();
        Write("pki/ca.crt", TestCertificates.Authority.CertificatePem);
        Write("pki/client.crt", TestCertificates.Client.CertificatePem);
        Write("pki/client.key", TestCertificates.Client.KeyPem);
        var path = Write("config", $$"""
            current-context: files
            clusters: [ { name: files, cluster: { server: "{{fake.BaseAddress}}", certificate-authority: pki/ca.crt } } ]
            contexts: [ { name: files, context: { cluster: files, user: admin, namespace: shop } } ]
            users: [ { name: admin, user: { client-certificate: pki/client.crt, client-key: pki/client.key } } ]
            """);

        using var client = new KubernetesClient(KubernetesClientConfiguration.BuildConfigFromConfigFile(path));

        Assert.Empty((await client.ListAsync<V1ConfigMap>("shop")).Items);
        Assert.Contains("CN=flashsale-operator-test", fake.Requests.Last().ClientCertificateSubject);
    }

    [Fact]
    public async Task AServerCertificateFromAnotherAuthorityIsRefusedUnlessVerificationIsSkipped()
    {
        await using var fake = await StartTlsFakeAsync(requireClientCertificate: false);
        var untrusted = Write("untrusted", $$"""
            current-context: x
            clusters: [ { name: c, cluster: { server: "{{fake.BaseAddress}}" } } ]
            contexts: [ { name: x, context: { cluster: c, user: u } } ]
            users: [ { name: u, user: { token: bearer-1 } } ]
            """);
        var noRetries = new KubernetesClientOptions { Retry = { MaxAttempts = 1 } };
        using (var client = new KubernetesClient(KubernetesClientConfiguration.BuildConfigFromConfigFile(untrusted), noRetries))
        {
            await Assert.ThrowsAsync<HttpRequestException>(() => client.ListAsync<V1ConfigMap>("shop"));
        }

        Assert.Empty(fake.Requests);

        var skipping = Write("skipping", File.ReadAllText(untrusted).Replace($"server: \"{fake.BaseAddress}\"", $"server: \"{fake.BaseAddress}\", insecure-skip-tls-verify: true"));
        using (var client = new KubernetesClient(KubernetesClientConfiguration.BuildConfigFromConfigFile(skipping), noRetries))
        {
            Assert.Empty((await client.ListAsync<V1ConfigMap>("shop")).Items);
        }

        Assert.Equal("Bearer bearer-1", fake.Requests.Single().Authorization);
    }

    [Fact]
    public async Task InClusterConfigurationReadsTheServiceAccountAndFollowsTokenRotation()
    {
        await using var fake = await StartTlsFakeAsync(requireClientCertificate: false);
        Write("sa/token", "first-token\n");
        Write("sa/ca.crt", TestCertificates.Authority.CertificatePem);
        Write("sa/namespace", "shop");

        var configuration = KubernetesClientConfiguration.InClusterConfig(Path.Combine(directory.FullName, "sa"), "127.0.0.1", fake.BaseAddress.Port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal("shop", configuration.Namespace);
        using var client = new KubernetesClient(configuration);
        await client.ListAsync<V1ConfigMap>(configuration.Namespace);

        // The kubelet replaces the file (atomically, through a rename) when it rotates the token.
        Write("sa/token.next", "second-token\n");
        File.Move(Path.Combine(directory.FullName, "sa/token.next"), Path.Combine(directory.FullName, "sa/token"), overwrite: true);
        await client.ListAsync<V1ConfigMap>(configuration.Namespace);

        Assert.Equal(["Bearer first-token", "Bearer second-token"], fake.Requests.Select(r => r.Authorization));
    }

    [Fact]
    public async Task AKubeconfigTokenFileIsReadForEachRotation()
    {
        await using var fake = await FakeKubeApiServer.StartAsync();
        Write("token", "one");
        var path = Write("config", $$"""
            current-context: x
            clusters: [ { name: c, cluster: { server: "{{fake.BaseAddress}}" } } ]
            contexts: [ { name: x, context: { cluster: c, user: u } } ]
            users: [ { name: u, user: { tokenFile: token } } ]
            """);
        using var client = new KubernetesClient(KubernetesClientConfiguration.BuildConfigFromConfigFile(path));
        await client.ListAsync<V1ConfigMap>("shop");
        Write("token.next", "two");
        File.Move(Path.Combine(directory.FullName, "token.next"), Path.Combine(directory.FullName, "token"), overwrite: true);
        await client.ListAsync<V1ConfigMap>("shop");

        Assert.Equal(["Bearer one", "Bearer two"], fake.Requests.Select(r => r.Authorization));
    }

    private static Task<FakeKubeApiServer> StartTlsFakeAsync(bool requireClientCertificate = true) =>
        FakeKubeApiServer.StartAsync(new FakeKubeApiServerOptions
        {
            ServerCertificate = TestCertificates.Server.Certificate,
            ClientCertificateAuthority = requireClientCertificate ? TestCertificates.Authority.Certificate : null,
        });

    private string Write(string relativePath, string content)
    {
        var path = Path.Combine(directory.FullName, relativePath);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, content);
        return path;
    }
}
