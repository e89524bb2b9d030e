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

    /// <param name="maxQueued">derivations that may wait for a core (beyond the one per core running); more are refused</param>
    public PasswordHasher(int iterations, int maxQueued = 0)
    {
        if (iterations < MinimumIterations)
            throw new InvalidOperationException($"Users:PasswordHashIterations is {iterations}; at least {MinimumIterations} are required");
        if (maxQueued < 0) throw new InvalidOperationException("Users:PasswordHashQueueLimit must not be negative");
        _iterations = iterations;
        _dummyHash = new(() => Hash(Convert.ToBase64String(RandomNumberGenerator.GetBytes(16))));
        _maxInFlight = Environment.ProcessorCount + (maxQueued == 0 ? DefaultQueuedPerCore * Environment.ProcessorCount : maxQueued);
        // Registrations may fill half the queue only, so that a burst of them never makes a login wait long or be refused.
        _maxInFlightForNewPasswords = Environment.ProcessorCount + Math.Max(1, (_maxInFlight - Environment.ProcessorCount) / 2);
    }

    public const int DefaultQueuedPerCore = 4;

    // PBKDF2 is deliberately slow CPU work: at most one per core at a time, the rest wait asynchronously, so that a burst
    // of registrations or logins cannot starve the thread pool (and with it every other request and the database driver).
    readonly SemaphoreSlim _cores = new(Environment.ProcessorCount, Environment.ProcessorCount);
    // Waiting is bounded too: past the bound a caller is refused at once (429) instead of queueing for ever longer.
    readonly int _maxInFlight, _maxInFlightForNewPasswords;
    int _inFlight;

    /// <summary>For the admin bootstrap at start: waits for a core whatever the queue.</summary>
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

    /// <summary>A registration's hash; null when the queue is full (the caller answers 429).</summary>
    public async Task<string?> TryHashAsync(string password, CancellationToken cancellationToken)
    {
        if (!Enter(_maxInFlightForNewPasswords)) return null;
        try { return await HashAsync(password, cancellationToken); }
        finally { Interlocked.Decrement(ref _inFlight); }
    }

    /// <summary>A login's check; null when the queue is full (the caller answers 429).</summary>
    public async Task<bool?> TryVerifyAsync(string password, string? stored, CancellationToken cancellationToken)
    {
        if (!Enter(_maxInFlight)) return null;
        try { return await VerifyAsync(password, stored, cancellationToken); }
        finally { Interlocked.Decrement(ref _inFlight); }
    }

    bool Enter(int limit)
    {
        if (Interlocked.Increment(ref _inFlight) <= limit) return true;
        Interlocked.Decrement(ref _inFlight);
        return false;
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
