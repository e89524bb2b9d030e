namespace FlashSale.Orders.Gates;

public sealed record ReserveRequest(string Namespace, string Sale, Guid UserId, string? Email, string Sku, int Quantity, string IdempotencyKey, Guid NewOrderId);

/// <summary>Decides one order: window, idempotency, per-user limit and stock, atomically. Three strategies can be compared.</summary>
public interface IStockGate
{
    string Name { get; }
    Task<ReserveResult> ReserveAsync(ReserveRequest request, CancellationToken ct);
}

public static class StockGates
{
    public const string Redis = "redis";
    public const string PostgresRowLock = "postgres-row-lock";
    public const string PostgresOptimistic = "postgres-optimistic";
}
