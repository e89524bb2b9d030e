using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using FlashSale.ServiceDefaults;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace FlashSale.Users.Security;

/// <summary>
/// The RSA key that signs tokens: <c>Auth:SigningKeyPem</c> (a PEM, e.g. from a Kubernetes Secret), or <c>Auth:SigningKeyFile</c>
/// (generated there, mode 0600, when missing and <c>Auth:GenerateSigningKey</c> is true). Its kid is the RFC 7638 thumbprint.
/// </summary>
public sealed class SigningKey
{
    readonly RSA _rsa;
    readonly SigningCredentials _credentials;

    public string KeyId { get; }

    /// <summary>The public key as a JWKS document, served at /.well-known/jwks.json.</summary>
    public string Jwks { get; }

    SigningKey(RSA rsa)
    {
        if (rsa.KeySize < 2048) throw new InvalidOperationException($"The signing key has {rsa.KeySize} bits; at least 2048 are required");
        _rsa = rsa;
        var p = rsa.ExportParameters(false);
        string n = Base64UrlEncoder.Encode(p.Modulus), e = Base64UrlEncoder.Encode(p.Exponent);
        // RFC 7638: SHA-256 over the required members in lexicographic order, no whitespace.
        KeyId = Base64UrlEncoder.Encode(SHA256.HashData(Encoding.UTF8.GetBytes($$"""{"e":"{{e}}","kty":"RSA","n":"{{n}}"}""")));
        Jwks = JsonSerializer.Serialize(new { keys = new[] { new { kty = "RSA", use = "sig", alg = "RS256", kid = KeyId, n, e } } });
        _credentials = new SigningCredentials(new RsaSecurityKey(rsa) { KeyId = KeyId }, SecurityAlgorithms.RsaSha256);
    }

    public static SigningKey FromPem(string pem)
    {
        var rsa = RSA.Create();
        rsa.ImportFromPem(pem);
        return new SigningKey(rsa);
    }

    /// <param name="baseDirectory">Relative <c>Auth:SigningKeyFile</c> paths are resolved against it (the content root).</param>
    public static SigningKey Load(IConfiguration configuration, ILogger logger, string? baseDirectory = null)
    {
        var auth = configuration.GetSection("Auth");
        if (auth["SigningKeyPem"] is { Length: > 0 } pem) return FromPem(pem);
        if (auth["SigningKeyFile"] is not { Length: > 0 } file)
            throw new InvalidOperationException("Configuration value 'Auth:SigningKeyPem' is missing (or set 'Auth:SigningKeyFile')");
        var path = Path.GetFullPath(file, baseDirectory ?? Directory.GetCurrentDirectory());
        if (!File.Exists(path))
        {
            if (!auth.GetValue("GenerateSigningKey", false))
                throw new InvalidOperationException($"The signing key file '{path}' (Auth:SigningKeyFile) does not exist and Auth:GenerateSigningKey is false");
            Generate(path, logger);
        }
        return FromPem(File.ReadAllText(path));
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

    public string CreateToken(Guid userId, string username, bool admin, string issuer, string audience, DateTime now, TimeSpan lifetime)
    {
        var claims = new Dictionary<string, object>
        {
            [JwtClaims.Subject] = userId.ToString(),
            [JwtClaims.Name] = username,
            ["jti"] = Guid.NewGuid().ToString("N"),
        };
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
