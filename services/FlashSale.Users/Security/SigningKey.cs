using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace FlashSale.Users.Security;

/// <summary>
/// The RSA key that signs tokens: <c>Auth:SigningKeyPem</c> (a PEM, e.g. from a Kubernetes Secret), or <c>Auth:SigningKeyFile</c>
/// (generated there, mode 0600, when missing and <c>Auth:GenerateSigningKey</c> is true). Its kid is the RFC 7638 thumbprint.
/// <para>
/// Rotation: <c>Auth:VerificationKeyPems</c> (a list; private or public key PEMs) are keys published in the JWKS after the
/// signing key and trusted, but never used to sign. In two steps: (1) add the next key there, so that every service has it
/// (their JWKS refresh, at most <c>Auth:JwksRefreshInterval</c>) before the first token it signs; (2) make it the signing
/// key and move the previous one there, so that tokens it signed stay valid until they expire; after the token lifetime
/// remove it. (Skipping step 1 also works: a service that meets an unknown kid fetches the JWKS again, at most once per
/// <c>Auth:JwksMinRefreshInterval</c>, so new tokens may be refused for up to that long.)
/// </para>
/// </summary>
public sealed class SigningKey
{
    readonly RSA _rsa;
    readonly SigningCredentials _credentials;

    public string KeyId { get; }

    /// <summary>The kids of the verification keys (published and trusted, never used to sign).</summary>
    public IReadOnlyList<string> VerificationKeyIds { get; }

    /// <summary>The public keys (signing key first, then the verification keys) as a JWKS document, served at /.well-known/jwks.json.</summary>
    public string Jwks { get; }

    SigningKey(RSA rsa, IReadOnlyList<RSA> verification)
    {
        _rsa = rsa;
        var (kid, jwk) = PublicJwk(rsa, "signing key");
        KeyId = kid;
        var jwks = new List<object> { jwk };
        var verificationIds = new List<string>();
        for (var i = 0; i < verification.Count; i++)
        {
            var (vkid, vjwk) = PublicJwk(verification[i], $"verification key {i} (Auth:VerificationKeyPems:{i})");
            if (vkid == KeyId || verificationIds.Contains(vkid)) continue; // the same key twice adds nothing
            verificationIds.Add(vkid);
            jwks.Add(vjwk);
        }
        VerificationKeyIds = verificationIds;
        Jwks = JsonSerializer.Serialize(new { keys = jwks });
        _credentials = new SigningCredentials(new RsaSecurityKey(rsa) { KeyId = KeyId }, SecurityAlgorithms.RsaSha256);
    }

    static (string Kid, object Jwk) PublicJwk(RSA rsa, string what)
    {
        if (rsa.KeySize < 2048) throw new InvalidOperationException($"The {what} has {rsa.KeySize} bits; at least 2048 are required");
        var p = rsa.ExportParameters(false);
        string n = Base64UrlEncoder.Encode(p.Modulus), e = Base64UrlEncoder.Encode(p.Exponent);
        // RFC 7638: SHA-256 over the required members in lexicographic order, no whitespace.
        var kid = Base64UrlEncoder.Encode(SHA256.HashData(Encoding.UTF8.GetBytes($$"""{"e":"{{e}}","kty":"RSA","n":"{{n}}"}""")));
        return (kid, new { kty = "RSA", use = "sig", alg = "RS256", kid, n, e });
    }

    public static SigningKey FromPem(string pem, IEnumerable<string>? verificationPems = null) =>
        new(ImportPem(pem, "signing key"), [.. (verificationPems ?? []).Select((v, i) => ImportPem(v, $"verification key {i} (Auth:VerificationKeyPems:{i})"))]);

    static RSA ImportPem(string pem, string what)
    {
        var rsa = RSA.Create();
        try { rsa.ImportFromPem(pem); }
        catch (ArgumentException e) { throw new InvalidOperationException($"The {what} is not an RSA key in PEM form ({e.Message})", e); }
        return rsa;
    }

    /// <param name="baseDirectory">Relative <c>Auth:SigningKeyFile</c> paths are resolved against it (the content root).</param>
    public static SigningKey Load(IConfiguration configuration, ILogger logger, string? baseDirectory = null)
    {
        var auth = configuration.GetSection("Auth");
        var verification = auth.GetSection("VerificationKeyPems").GetChildren().Select(c => c.Value).Where(v => !string.IsNullOrWhiteSpace(v)).Select(v => v!).ToList();
        if (auth["SigningKeyPem"] is { Length: > 0 } pem) return FromPem(pem, verification);
        if (auth["SigningKeyFile"] is not { Length: > 0 } file)
            throw new InvalidOperationException("Configuration value 'Auth:SigningKeyPem' is missing (or set 'Auth:SigningKeyFile')");
        var path = Path.GetFullPath(file, baseDirectory ?? Directory.GetCurrentDirectory());
        if (!File.Exists(path))
        {
            if (!auth.GetValue("GenerateSigningKey", false))
                throw new InvalidOperationException($"The signing key file '{path}' (Auth:SigningKeyFile) does not exist and Auth:GenerateSigningKey is false");
            Generate(path, logger);
        }
        return FromPem(File.ReadAllText(path), verification);
    }

    static void Generate(string path, ILogger logger)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        using var rsa = RSA.Create(2048);
        var temp = path + "." + Guid.NewGuid().ToString("N") + ".tmp";
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        using (var writer = new StreamWriter(temp, Encoding.ASCII, options)) writer.Write(rsa.ExportPkcs8PrivateKeyPem());
        try
        {
            File.Move(temp, path, overwrite: false); // another process generating at once: the first key wins
            logger.LogInformation("Generated a new RSA signing key in {SigningKeyFile}", path);
        }
        catch (IOException) when (File.Exists(path))
        {
            File.Delete(temp);
        }
    }

    public string CreateToken(Guid userId, string username, string? email, bool admin, string issuer, string audience, DateTime now, TimeSpan lifetime)
    {
        var claims = new Dictionary<string, object>
        {
            [JwtClaims.Subject] = userId.ToString(),
            [JwtClaims.Name] = username,
            ["jti"] = Guid.NewGuid().ToString("N"),
        };
        if (!string.IsNullOrEmpty(email)) claims[JwtClaims.Email] = email;
        if (admin) claims[JwtClaims.Role] = JwtClaims.AdminRole;
        return new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = issuer,
            Audience = audience,
            Claims = claims,
            IssuedAt = now,
            NotBefore = now,
            Expires = now + lifetime,
            SigningCredentials = _credentials,
        });
    }
}
