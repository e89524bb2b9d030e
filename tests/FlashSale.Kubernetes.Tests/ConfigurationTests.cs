using FlashSale.Kubernetes.Fake;
using k8s;

namespace FlashSale.Kubernetes.Tests;

/// <summary>
/// The official client's kubeconfig loading reaching the fake: over verified TLS with a client certificate, with an exec
/// plugin's token, with a token. Loading a kubeconfig is also what needs YamlDotNet 18 at run time.
/// </summary>
public sealed class ConfigurationTests : IDisposable
{
    readonly DirectoryInfo _directory = Directory.CreateTempSubdirectory("flashsale-kubeconfig-");

    public void Dispose() => _directory.Delete(recursive: true);

    [Fact]
    public async Task ACertificateUserWithEmbeddedDataReachesTheServerOverVerifiedTls()
    {
        await using var fake = await StartTlsFakeAsync();
        var path = Write("config", $$"""
            apiVersion: v1
            kind: Config
            current-context: tls
            clusters:
            - name: tls
              cluster:
                server: {{fake.BaseAddress}}
                certificate-authority-data: {{TestCertificates.Base64(TestCertificates.Authority.CertificatePem)}}
            contexts:
            - name: tls
              context: { cluster: tls, user: admin, namespace: shop }
            users:
            - name: admin
              user:
                client-certificate-data: {{TestCertificates.Base64(TestCertificates.Client.CertificatePem)}}
                client-key-data: {{TestCertificates.Base64(TestCertificates.Client.KeyPem)}}
            """);

        var configuration = KubernetesClientConfiguration.BuildConfigFromConfigFile(path);
        using var client = new k8s.Kubernetes(configuration);
        await client.CoreV1.CreateNamespacedConfigMapAsync(TestKit.ConfigMap("over-tls"), configuration.Namespace);

        var request = fake.Requests.Last();
        Assert.Equal("create", request.Verb);
        Assert.Equal("shop", request.Namespace);
        Assert.Contains("CN=flashsale-operator-test", request.ClientCertificateSubject);
        Assert.Null(request.Authorization);
    }

    [Fact]
    public async Task AnExecPluginsTokenIsSentAsABearerToken()
    {
        await using var fake = await FakeKubeApiServer.StartAsync();
        var plugin = Write("credential-plugin.sh", """
            echo '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"from-exec"}}'
            """);
        var path = Write("config", $$"""
            apiVersion: v1
            kind: Config
            current-context: cloud
            clusters: [ { name: c, cluster: { server: "{{fake.BaseAddress}}" } } ]
            contexts: [ { name: cloud, context: { cluster: c, user: cloud } } ]
            users:
            - name: cloud
              user:
                exec:
                  apiVersion: client.authentication.k8s.io/v1
                  command: /bin/sh
                  args: [ "{{plugin}}" ]
                  interactiveMode: Never
            """);

        using var client = new k8s.Kubernetes(KubernetesClientConfiguration.BuildConfigFromConfigFile(path));
        await client.CoreV1.ListNamespacedConfigMapAsync("shop");

        Assert.Equal("Bearer from-exec", fake.Requests.Single().Authorization);
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
        using (var client = new k8s.Kubernetes(KubernetesClientConfiguration.BuildConfigFromConfigFile(untrusted)))
        {
            await Assert.ThrowsAsync<HttpRequestException>(() => client.CoreV1.ListNamespacedConfigMapAsync("shop"));
        }

        Assert.Empty(fake.Requests);

        var skipping = Write("skipping", File.ReadAllText(untrusted).Replace($"server: \"{fake.BaseAddress}\"", $"server: \"{fake.BaseAddress}\", insecure-skip-tls-verify: true"));
        using (var client = new k8s.Kubernetes(KubernetesClientConfiguration.BuildConfigFromConfigFile(skipping)))
        {
            Assert.Empty((await client.CoreV1.ListNamespacedConfigMapAsync("shop")).Items);
        }

        Assert.Equal("Bearer bearer-1", fake.Requests.Single().Authorization);
    }

    static Task<FakeKubeApiServer> StartTlsFakeAsync(bool requireClientCertificate = true) =>
        FakeKubeApiServer.StartAsync(new FakeKubeApiServerOptions
        {
            ServerCertificate = TestCertificates.Server.Certificate,
            ClientCertificateAuthority = requireClientCertificate ? TestCertificates.Authority.Certificate : null,
        });

    string Write(string relativePath, string content)
    {
        var path = Path.Combine(_directory.FullName, relativePath);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, content);
        return path;
    }
}
