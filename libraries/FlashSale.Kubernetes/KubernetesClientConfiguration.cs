using System.Security.Cryptography.X509Certificates;
using YamlDotNet.Serialization;

namespace FlashSale.Kubernetes;

/// <summary>Where the API server is and how to authenticate to it: from a kubeconfig file or from inside a pod.</summary>
public sealed class KubernetesClientConfiguration
{
    public const string ServiceAccountDirectory = "/var/run/secrets/kubernetes.io/serviceaccount";

    public required Uri Host { get; init; }

    /// <summary>The context's namespace (kubeconfig) or the pod's namespace (in cluster); null when unset.</summary>
    public string? Namespace { get; init; }

    /// <summary>The kubeconfig context this came from.</summary>
    public string? CurrentContext { get; init; }

    /// <summary>Certificate authorities that sign the server certificate; null trusts the machine's store.</summary>
    public X509Certificate2Collection? SslCaCerts { get; init; }

    public X509Certificate2? ClientCertificate { get; init; }

    public bool SkipTlsVerify { get; init; }

    /// <summary>The name to expect in the server certificate, when it differs from the host.</summary>
    public string? TlsServerName { get; init; }

    /// <summary>A bearer token that does not change.</summary>
    public string? AccessToken { get; init; }

    /// <summary>A bearer token read from a file that may be rotated (service-account token, kubeconfig tokenFile).</summary>
    public FileTokenSource? TokenFile { get; init; }

    public string? Username { get; init; }

    public string? Password { get; init; }

    /// <summary>The configuration for a kubeconfig file: $KUBECONFIG (its first path) or ~/.kube/config, its current context or the one named.</summary>
    public static KubernetesClientConfiguration BuildConfigFromConfigFile(string? kubeconfigPath = null, string? currentContext = null)
    {
        kubeconfigPath ??= DefaultKubeConfigPath();
        if (!File.Exists(kubeconfigPath))
        {
            throw new KubeConfigException($"kubeconfig file '{kubeconfigPath}' does not exist.");
        }

        return BuildConfigFromConfigText(File.ReadAllText(kubeconfigPath), currentContext, kubeconfigPath);
    }

    /// <summary>Parses kubeconfig YAML; relative file paths in it are taken from the directory of <paramref name="sourcePath"/>.</summary>
    public static KubernetesClientConfiguration BuildConfigFromConfigText(string yaml, string? currentContext = null, string? sourcePath = null) =>
        KubeConfigLoader.Load(yaml, currentContext, sourcePath);

    /// <summary>True inside a pod: the service host variables and the service-account token are there.</summary>
    public static bool IsInCluster() =>
        !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("KUBERNETES_SERVICE_HOST"))
        && !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("KUBERNETES_SERVICE_PORT"))
        && File.Exists(Path.Combine(ServiceAccountDirectory, "token"));

    /// <summary>The configuration of a pod's service account; its token is re-read when the kubelet rotates it.</summary>
    public static KubernetesClientConfiguration InClusterConfig() =>
        InClusterConfig(
            ServiceAccountDirectory,
            Environment.GetEnvironmentVariable("KUBERNETES_SERVICE_HOST") ?? throw new KubeConfigException("KUBERNETES_SERVICE_HOST is not set: not running in a cluster."),
            Environment.GetEnvironmentVariable("KUBERNETES_SERVICE_PORT") ?? throw new KubeConfigException("KUBERNETES_SERVICE_PORT is not set: not running in a cluster."));

    internal static KubernetesClientConfiguration InClusterConfig(string serviceAccountDirectory, string host, string port)
    {
        var tokenPath = Path.Combine(serviceAccountDirectory, "token");
        if (!File.Exists(tokenPath))
        {
            throw new KubeConfigException($"Service-account token '{tokenPath}' does not exist.");
        }

        var caPath = Path.Combine(serviceAccountDirectory, "ca.crt");
        var namespacePath = Path.Combine(serviceAccountDirectory, "namespace");
        var hostPart = host.Contains(':') && !host.StartsWith('[') ? $"[{host}]" : host;
        return new KubernetesClientConfiguration
        {
            Host = new Uri($"https://{hostPart}:{port}"),
            SslCaCerts = File.Exists(caPath) ? LoadPemCertificates(File.ReadAllText(caPath), caPath) : null,
            TokenFile = new FileTokenSource(tokenPath),
            Namespace = File.Exists(namespacePath) ? File.ReadAllText(namespacePath).Trim() : null,
        };
    }

    /// <summary>In-cluster configuration inside a pod, the kubeconfig otherwise.</summary>
    public static KubernetesClientConfiguration BuildDefaultConfig() => IsInCluster() ? InClusterConfig() : BuildConfigFromConfigFile();

    internal static string DefaultKubeConfigPath()
    {
        var env = Environment.GetEnvironmentVariable("KUBECONFIG");
        if (!string.IsNullOrEmpty(env))
        {
            return env.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)[0];
        }

        return Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".kube", "config");
    }

    internal static X509Certificate2Collection LoadPemCertificates(string pem, string source)
    {
        var certificates = new X509Certificate2Collection();
        try
        {
            certificates.ImportFromPem(pem);
        }
        catch (Exception e) when (e is System.Security.Cryptography.CryptographicException or ArgumentException)
        {
            throw new KubeConfigException($"Cannot read the certificates of {source}: {e.Message}", e);
        }

        if (certificates.Count == 0)
        {
            throw new KubeConfigException($"{source} holds no PEM certificate.");
        }

        return certificates;
    }
}

/// <summary>A bearer token kept in a file that is replaced when it rotates: re-read when the file changes, and at least every minute (as client-go does).</summary>
public sealed class FileTokenSource(string path)
{
    private static readonly TimeSpan MaxAge = TimeSpan.FromMinutes(1);
    private readonly Lock gate = new();
    private string? token;
    private DateTime readAtUtc;
    private DateTime fileWrittenAtUtc;

    public string Path { get; } = path;

    public string GetToken()
    {
        var written = File.GetLastWriteTimeUtc(Path);
        lock (gate)
        {
            if (token is null || written != fileWrittenAtUtc || DateTime.UtcNow - readAtUtc > MaxAge)
            {
                try
                {
                    token = File.ReadAllText(Path).Trim();
                }
                catch (IOException e)
                {
                    // Keep the last good token while the kubelet swaps the file.
                    if (token is null)
                    {
                        throw new KubeConfigException($"Cannot read token file '{Path}': {e.Message}", e);
                    }
                }

                readAtUtc = DateTime.UtcNow;
                fileWrittenAtUtc = written;
            }

            return token;
        }
    }
}

internal static class KubeConfigLoader
{
    public static KubernetesClientConfiguration Load(string yaml, string? contextName, string? sourcePath)
    {
        var source = sourcePath ?? "(kubeconfig text)";
        var baseDirectory = sourcePath is null ? Environment.CurrentDirectory : System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(sourcePath))!;
        KubeConfigFile file;
        try
        {
            file = new DeserializerBuilder().IgnoreUnmatchedProperties().Build().Deserialize<KubeConfigFile?>(yaml) ?? new KubeConfigFile();
        }
        catch (YamlDotNet.Core.YamlException e)
        {
            throw new KubeConfigException($"kubeconfig '{source}' is not valid YAML: {e.Message}", e);
        }

        contextName ??= file.CurrentContext;
        if (string.IsNullOrEmpty(contextName))
        {
            throw new KubeConfigException($"kubeconfig '{source}' has no current-context and no context was named.");
        }

        var context = file.Contexts.FirstOrDefault(c => c.Name == contextName)?.Context
            ?? throw new KubeConfigException(
                $"Context '{contextName}' was not found in kubeconfig '{source}'. Contexts there: {(file.Contexts.Count == 0 ? "none" : string.Join(", ", file.Contexts.Select(c => c.Name)))}.");
        var cluster = file.Clusters.FirstOrDefault(c => c.Name == context.Cluster)?.Cluster
            ?? throw new KubeConfigException($"Cluster '{context.Cluster}' of context '{contextName}' was not found in kubeconfig '{source}'.");
        var user = string.IsNullOrEmpty(context.User)
            ? new KubeConfigUser()
            : file.Users.FirstOrDefault(u => u.Name == context.User)?.User
              ?? throw new KubeConfigException($"User '{context.User}' of context '{contextName}' was not found in kubeconfig '{source}'.");

        if (string.IsNullOrEmpty(cluster.Server))
        {
            throw new KubeConfigException($"Cluster '{context.Cluster}' in kubeconfig '{source}' has no server.");
        }

        string Resolve(string path) => System.IO.Path.IsPathRooted(path) ? path : System.IO.Path.Combine(baseDirectory, path);

        string? ReadPem(string? data, string? file, string what)
        {
            if (!string.IsNullOrEmpty(data))
            {
                try
                {
                    return System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(data));
                }
                catch (FormatException e)
                {
                    throw new KubeConfigException($"{what} in kubeconfig '{source}' is not base64: {e.Message}", e);
                }
            }

            if (!string.IsNullOrEmpty(file))
            {
                var full = Resolve(file);
                return File.Exists(full) ? File.ReadAllText(full) : throw new KubeConfigException($"{what} file '{full}' named in kubeconfig '{source}' does not exist.");
            }

            return null;
        }

        var caPem = ReadPem(cluster.CertificateAuthorityData, cluster.CertificateAuthority, $"certificate-authority of cluster '{context.Cluster}'");
        var certPem = ReadPem(user.ClientCertificateData, user.ClientCertificate, $"client-certificate of user '{context.User}'");
        var keyPem = ReadPem(user.ClientKeyData, user.ClientKey, $"client-key of user '{context.User}'");
        if ((certPem is null) != (keyPem is null))
        {
            throw new KubeConfigException($"User '{context.User}' in kubeconfig '{source}' has a client certificate without a key or a key without a certificate.");
        }

        var hasCredential = certPem is not null || !string.IsNullOrEmpty(user.Token) || !string.IsNullOrEmpty(user.TokenFile) || !string.IsNullOrEmpty(user.Username);
        if (!hasCredential && (user.Exec is not null || user.AuthProvider is not null))
        {
            throw new KubeConfigException($"User '{context.User}' in kubeconfig '{source}' uses an exec or auth-provider plugin, which this client does not run.");
        }

        return new KubernetesClientConfiguration
        {
            Host = new Uri(cluster.Server),
            Namespace = string.IsNullOrEmpty(context.Namespace) ? null : context.Namespace,
            CurrentContext = contextName,
            SslCaCerts = caPem is null ? null : KubernetesClientConfiguration.LoadPemCertificates(caPem, $"certificate-authority of cluster '{context.Cluster}'"),
            ClientCertificate = certPem is null ? null : LoadClientCertificate(certPem, keyPem!, $"user '{context.User}'"),
            SkipTlsVerify = cluster.InsecureSkipTlsVerify,
            TlsServerName = string.IsNullOrEmpty(cluster.TlsServerName) ? null : cluster.TlsServerName,
            AccessToken = string.IsNullOrEmpty(user.Token) ? null : user.Token,
            TokenFile = string.IsNullOrEmpty(user.Token) && !string.IsNullOrEmpty(user.TokenFile) ? new FileTokenSource(Resolve(user.TokenFile)) : null,
            Username = string.IsNullOrEmpty(user.Username) ? null : user.Username,
            Password = string.IsNullOrEmpty(user.Password) ? null : user.Password,
        };
    }

    private static X509Certificate2 LoadClientCertificate(string certPem, string keyPem, string what)
    {
        try
        {
            using var ephemeral = X509Certificate2.CreateFromPem(certPem, keyPem);
            // A PKCS#12 round trip gives the key a form every TLS stack accepts.
            return X509CertificateLoader.LoadPkcs12(ephemeral.Export(X509ContentType.Pkcs12), null);
        }
        catch (System.Security.Cryptography.CryptographicException e)
        {
            throw new KubeConfigException($"Cannot load the client certificate and key of {what}: {e.Message}", e);
        }
    }
}

// kubeconfig's YAML shape (https://kubernetes.io/docs/reference/config-api/kubeconfig.v1/), only what the client uses.
internal sealed class KubeConfigFile
{
    [YamlMember(Alias = "current-context")]
    public string? CurrentContext { get; set; }

    [YamlMember(Alias = "clusters")]
    public List<NamedCluster> Clusters { get; set; } = [];

    [YamlMember(Alias = "contexts")]
    public List<NamedContext> Contexts { get; set; } = [];

    [YamlMember(Alias = "users")]
    public List<NamedUser> Users { get; set; } = [];
}

internal sealed class NamedCluster
{
    [YamlMember(Alias = "name")]
    public string? Name { get; set; }

    [YamlMember(Alias = "cluster")]
    public KubeConfigCluster Cluster { get; set; } = new();
}

internal sealed class KubeConfigCluster
{
    [YamlMember(Alias = "server")]
    public string? Server { get; set; }

    [YamlMember(Alias = "certificate-authority")]
    public string? CertificateAuthority { get; set; }

    [YamlMember(Alias = "certificate-authority-data")]
    public string? CertificateAuthorityData { get; set; }

    [YamlMember(Alias = "insecure-skip-tls-verify")]
    public bool InsecureSkipTlsVerify { get; set; }

    [YamlMember(Alias = "tls-server-name")]
    public string? TlsServerName { get; set; }
}

internal sealed class NamedContext
{
    [YamlMember(Alias = "name")]
    public string? Name { get; set; }

    [YamlMember(Alias = "context")]
    public KubeConfigContext Context { get; set; } = new();
}

internal sealed class KubeConfigContext
{
    [YamlMember(Alias = "cluster")]
    public string? Cluster { get; set; }

    [YamlMember(Alias = "user")]
    public string? User { get; set; }

    [YamlMember(Alias = "namespace")]
    public string? Namespace { get; set; }
}

internal sealed class NamedUser
{
    [YamlMember(Alias = "name")]
    public string? Name { get; set; }

    [YamlMember(Alias = "user")]
    public KubeConfigUser User { get; set; } = new();
}

internal sealed class KubeConfigUser
{
    [YamlMember(Alias = "client-certificate")]
    public string? ClientCertificate { get; set; }

    [YamlMember(Alias = "client-certificate-data")]
    public string? ClientCertificateData { get; set; }

    [YamlMember(Alias = "client-key")]
    public string? ClientKey { get; set; }

    [YamlMember(Alias = "client-key-data")]
    public string? ClientKeyData { get; set; }

    [YamlMember(Alias = "token")]
    public string? Token { get; set; }

    [YamlMember(Alias = "tokenFile")]
    public string? TokenFile { get; set; }

    [YamlMember(Alias = "username")]
    public string? Username { get; set; }

    [YamlMember(Alias = "password")]
    public string? Password { get; set; }

    [YamlMember(Alias = "exec")]
    public Dictionary<string, object>? Exec { get; set; }

    [YamlMember(Alias = "auth-provider")]
    public Dictionary<string, object>? AuthProvider { get; set; }
}
