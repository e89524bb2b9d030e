using System.Security.Cryptography;

namespace FlashSale.Users.Security;

/// <summary>
/// PBKDF2-HMAC-SHA512 with a per-user 16-byte salt, stored as <c>pbkdf2-sha512$iterations$salt$hash</c> (base64),
/// so that the iteration count can be raised later without invalidating stored hashes. Verifying against no stored hash
/// (an unknown user) spends the same time on a dummy hash and fails, so timing does not tell which usernames exist.
/// </summary>
public sealed class PasswordHasher
{
    public const int MinimumIterations = 100_000;
    const string Scheme = "pbkdf2-sha512";
    const int SaltBytes = 16, HashBytes = 32;
    readonly int _iterations;
    readonly Lazy<string> _dummyHash;

    public PasswordHasher(int iterations)
    {
        if (iterations < MinimumIterations)
            throw new InvalidOperationException($"Users:PasswordHashIterations is {iterations}; at least {MinimumIterations} are required");
        _iterations = iterations;
        _dummyHash = new(() => Hash(Convert.ToBase64String(RandomNumberGenerator.GetBytes(16))));
    }

    // PBKDF2 is deliberately slow CPU work: at most one per core at a time, the rest wait asynchronously, so that a burst
    // of registrations or logins cannot starve the thread pool (and with it every other request and the database driver).
    readonly SemaphoreSlim _cores = new(Environment.ProcessorCount, Environment.ProcessorCount);

    public async Task<string> HashAsync(string password, CancellationToken cancellationToken)
    {
        await _cores.WaitAsync(cancellationToken);
        try { return Hash(password); }
        finally { _cores.Release(); }
    }

    public async Task<bool> VerifyAsync(string password, string? stored, CancellationToken cancellationToken)
    {
        await _cores.WaitAsync(cancellationToken);
        try { return Verify(password, stored ?? _dummyHash.Value) && stored is not null; }
        finally { _cores.Release(); }
    }

    public string Hash(string password)
    {
        var salt = RandomNumberGenerator.GetBytes(SaltBytes);
        var hash = Rfc2898DeriveBytes.Pbkdf2(password, salt, _iterations, HashAlgorithmName.SHA512, HashBytes);
        return $"{Scheme}${_iterations}${Convert.ToBase64String(salt)}${Convert.ToBase64String(hash)}";
    }

    public bool Verify(string password, string stored)
    {
        var parts = stored.Split('$');
        if (parts is not [Scheme, var iterationsText, var saltText, var hashText] || !int.TryParse(iterationsText, out var iterations)) return false;
        var expected = Convert.FromBase64String(hashText);
        var actual = Rfc2898DeriveBytes.Pbkdf2(password, Convert.FromBase64String(saltText), iterations, HashAlgorithmName.SHA512, expected.Length);
        return CryptographicOperations.FixedTimeEquals(actual, expected);
    }
}
