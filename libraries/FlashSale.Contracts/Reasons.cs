namespace FlashSale.Contracts;

/// <summary>Reasons a reservation is refused; the names are the API's machine-readable <c>reason</c>.</summary>
public static class Reasons
{
    public const string SoldOut = "SOLD_OUT";
    public const string LimitReached = "LIMIT_REACHED";
    public const string NotStarted = "NOT_STARTED";
    public const string Ended = "ENDED";
    public const string UnknownSku = "UNKNOWN_SKU";
    public const string UnknownSale = "UNKNOWN_SALE";
    public const string IdempotencyMismatch = "IDEMPOTENCY_MISMATCH";
    public const string Contention = "CONTENTION";
}
