using System.Security.Cryptography;
using FlashSale.Users.Security;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.IdentityModel.Tokens;

namespace FlashSale.Users.Tests;

public sealed class SigningKeyTests
{
    static IConfiguration Config(params (string, string)[] values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>(v.Item1, v.Item2))).Build();

    [Fact]
    public void TheKidIsTheRfc7638ThumbprintOfThePublicKey()
    {
        using var rsa = RSA.Create(2048);
        var key = SigningKey.FromPem(rsa.ExportPkcs8PrivateKeyPem());
        var jwk = JsonWebKeyConverter.ConvertFromRSASecurityKey(new RsaSecurityKey(rsa.ExportParameters(false)));
        Assert.Equal(Base64UrlEncoder.Encode(jwk.ComputeJwkThumbprint()), key.KeyId);
    }

    [Fact]
    public void VerificationKeysArePublishedAfterTheSigningKeyOnceEachAndBadOnesAreRefusedByName()
    {
        using RSA signing = RSA.Create(2048), retired = RSA.Create(2048);
        var publicOnly = retired.ExportSubjectPublicKeyInfoPem();
        var key = SigningKey.Load(Config(("Auth:SigningKeyPem", signing.ExportPkcs8PrivateKeyPem()),
            ("Auth:VerificationKeyPems:0", publicOnly), ("Auth:VerificationKeyPems:1", retired.ExportPkcs8PrivateKeyPem()),
            ("Auth:VerificationKeyPems:2", signing.ExportPkcs8PrivateKeyPem())), NullLogger.Instance);
        var kids = new JsonWebKeySet(key.Jwks).Keys.Select(k => k.Kid).ToList();
        Assert.Equal([key.KeyId, SigningKey.FromPem(publicOnly).KeyId], kids);
        Assert.Equal([kids[1]], key.VerificationKeyIds);
        Assert.All(new JsonWebKeySet(key.Jwks).Keys, k => Assert.False(k.HasPrivateKey));

        var bad = Assert.Throws<InvalidOperationException>(() => SigningKey.Load(Config(("Auth:SigningKeyPem", signing.ExportPkcs8PrivateKeyPem()),
            ("Auth:VerificationKeyPems:0", "not a key")), NullLogger.Instance));
        Assert.Contains("Auth:VerificationKeyPems:0", bad.Message);
        using var small = RSA.Create(1024);
        Assert.Throws<InvalidOperationException>(() => SigningKey.FromPem(signing.ExportPkcs8PrivateKeyPem(), [small.ExportSubjectPublicKeyInfoPem()]));
    }

    [Fact]
    public void AMissingKeyFileIsGeneratedOwnerOnlyAndReusedOnTheNextStart()
    {
        var dir = Path.Combine(Path.GetTempPath(), "flashsale-keys-" + Guid.NewGuid().ToString("N"));
        var file = Path.Combine(dir, "users-signing.pem");
        try
        {
            var config = Config(("Auth:SigningKeyFile", file), ("Auth:GenerateSigningKey", "true"));
            var first = SigningKey.Load(config, NullLogger.Instance);
            Assert.True(File.Exists(file));
            if (!OperatingSystem.IsWindows()) Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
            Assert.Equal(first.KeyId, SigningKey.Load(config, NullLogger.Instance).KeyId);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void ARelativeKeyFileIsResolvedAgainstTheContentRoot()
    {
        var root = Path.Combine(Path.GetTempPath(), "flashsale-root-" + Guid.NewGuid().ToString("N"));
        try
        {
            SigningKey.Load(Config(("Auth:SigningKeyFile", "../keys/k.pem"), ("Auth:GenerateSigningKey", "true")), NullLogger.Instance, Path.Combine(root, "app"));
            Assert.True(File.Exists(Path.Combine(root, "keys", "k.pem")));
        }
        finally { Directory.Delete(root, recursive: true); }
    }

    [Fact]
    public void AMissingKeyFileIsAnErrorUnlessGenerationIsAllowed()
    {
        var file = Path.Combine(Path.GetTempPath(), Guid.NewGuid().ToString("N"), "none.pem");
        var e = Assert.Throws<InvalidOperationException>(() => SigningKey.Load(Config(("Auth:SigningKeyFile", file)), NullLogger.Instance));
        Assert.Contains("Auth:GenerateSigningKey", e.Message);
        Assert.False(File.Exists(file));
    }

    [Fact]
    public void NoKeyConfiguredNamesTheConfigurationKey()
    {
        var e = Assert.Throws<InvalidOperationException>(() => SigningKey.Load(Config(), NullLogger.Instance));
        Assert.Contains("'Auth:SigningKeyPem'", e.Message);
    }

    [Fact]
    public void AKeyShorterThan2048BitsIsRefused()
    {
        using var rsa = RSA.Create(1024);
        Assert.Throws<InvalidOperationException>(() => SigningKey.FromPem(rsa.ExportPkcs8PrivateKeyPem()));
    }
}

public sealed class PasswordHasherTests
{
    [Fact]
    public void AHashVerifiesItsPasswordOnlyAndUsesAFreshSaltEachTime()
    {
        var hasher = new PasswordHasher(100_000);
        var a = hasher.Hash("correct horse");
        var b = hasher.Hash("correct horse");
        Assert.NotEqual(a, b);
        Assert.StartsWith("pbkdf2-sha512$100000$", a);
        Assert.True(hasher.Verify("correct horse", a));
        Assert.False(hasher.Verify("correct horsf", a));
        Assert.False(hasher.Verify("correct horse", "garbage"));
    }

    [Fact]
    public async Task VerifyingAgainstNoStoredHashFailsWhateverThePassword()
    {
        var hasher = new PasswordHasher(100_000);
        Assert.False(await hasher.VerifyAsync("anything", null, CancellationToken.None));
        Assert.True(await hasher.VerifyAsync("anything", hasher.Hash("anything"), CancellationToken.None));
    }

    [Fact]
    public void FewerThan100000IterationsAreRefused() => Assert.Throws<InvalidOperationException>(() => new PasswordHasher(99_999));

    [Fact]
    public void AHashKeepsVerifyingAfterTheIterationCountIsRaised() =>
        Assert.True(new PasswordHasher(300_000).Verify("pw-123456", new PasswordHasher(100_000).Hash("pw-123456")));
}
