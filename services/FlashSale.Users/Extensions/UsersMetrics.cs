using System.Diagnostics.Metrics;

namespace FlashSale.Users.Extensions;

/// <summary>Counters of the users service (exported at /metrics by ServiceDefaults).</summary>
public sealed class UsersMetrics
{
    readonly Counter<long> _registrations, _logins, _debits, _refunds, _throttleFallbacks, _registrationThrottleFallbacks;

    public UsersMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create("FlashSale.Users");
        _registrations = meter.CreateCounter<long>("users.registrations", description: "Registration attempts by outcome.");
        _logins = meter.CreateCounter<long>("users.logins", description: "Login attempts by outcome.");
        _debits = meter.CreateCounter<long>("wallet.debits", description: "Wallet debit requests by outcome.");
        _refunds = meter.CreateCounter<long>("wallet.refunds", description: "Debits given back because their order expired unpaid.");
        _throttleFallbacks = meter.CreateCounter<long>("users.login_throttle_fallbacks",
            description: "Login attempts counted in the replica's memory because Redis, where every replica counts them, could not be reached.");
        _registrationThrottleFallbacks = meter.CreateCounter<long>("users.registration_throttle_fallbacks",
            description: "Registrations counted in the replica's memory because Redis, where every replica counts them, could not be reached.");
    }

    public void Registration(string outcome) => _registrations.Add(1, new KeyValuePair<string, object?>("outcome", outcome));
    public void Login(string outcome) => _logins.Add(1, new KeyValuePair<string, object?>("outcome", outcome));
    public void Debit(string outcome) => _debits.Add(1, new KeyValuePair<string, object?>("outcome", outcome));
    public void Refund() => _refunds.Add(1);
    public void LoginThrottleFallback() => _throttleFallbacks.Add(1);
    public void RegistrationThrottleFallback() => _registrationThrottleFallbacks.Add(1);
}
