using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace FlashSale.Kubernetes.Tests;

sealed record IssuedCertificate(X509Certificate2 Certificate, string CertificatePem, string KeyPem);

/// <summary>A throwaway certificate authority with a server certificate for 127.0.0.1 and a client certificate, made per test run.</summary>
static class TestCertificates
{
    static readonly Lazy<(IssuedCertificate Authority, IssuedCertificate Server, IssuedCertificate Client)> Set = new(Create);

    public static IssuedCertificate Authority => Set.Value.Authority;

    public static IssuedCertificate Server => Set.Value.Server;

    public static IssuedCertificate Client => Set.Value.Client;

    public static string Base64(string pem) => Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(pem));

    static (IssuedCertificate, IssuedCertificate, IssuedCertificate) Create()
    {
        var now = DateTimeOffset.UtcNow;
        using var authorityKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var authorityRequest = new CertificateRequest("CN=flashsale-test-ca", authorityKey, HashAlgorithmName.SHA256);
        authorityRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        authorityRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        authorityRequest.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(authorityRequest.PublicKey, false));
        var authority = authorityRequest.CreateSelfSigned(now.AddDays(-1), now.AddDays(2));
        var authorityIssued = new IssuedCertificate(Reload(authority), authority.ExportCertificatePem(), authorityKey.ExportPkcs8PrivateKeyPem());

        var server = Issue(authority, "CN=127.0.0.1", server: true, now);
        var client = Issue(authority, "CN=flashsale-operator-test, O=system:masters", server: false, now);
        return (authorityIssued, server, client);
    }

    static IssuedCertificate Issue(X509Certificate2 authority, string subject, bool server, DateTimeOffset now)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(server ? "1.3.6.1.5.5.7.3.1" : "1.3.6.1.5.5.7.3.2")], false));
        if (server)
        {
            var names = new SubjectAlternativeNameBuilder();
            names.AddIpAddress(IPAddress.Loopback);
            names.AddDnsName("localhost");
            request.CertificateExtensions.Add(names.Build());
        }

        var serial = RandomNumberGenerator.GetBytes(8);
        using var issued = request.Create(authority, now.AddDays(-1), now.AddDays(1), serial);
        using var withKey = issued.CopyWithPrivateKey(key);
        return new IssuedCertificate(Reload(withKey), issued.ExportCertificatePem(), key.ExportPkcs8PrivateKeyPem());
    }

    static X509Certificate2 Reload(X509Certificate2 certificate) =>
        X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pkcs12), null);
}
