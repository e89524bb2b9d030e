using System.Net.Http.Headers;
using System.Net.Http.Json;

namespace FlashSale.LoadTest;

/// <summary>The stock service's audit answer (GET /api/sales/{sale}/audit, admin only).</summary>
public sealed record SaleAudit(
    string Namespace, string Sale, string Gate, DateTimeOffset At, IReadOnlyList<ProductAudit> Products,
    long PendingStreamEntries, long OrdersInPostgres, long DuplicateOrders, long UsersOverLimit, bool Drained, bool Consistent)
{
    public long Sold => Products.Sum(p => p.Stock - p.Remaining);
    /// <summary>Units sold beyond the stock by any measure: negative remaining, more units in orders or reservations than stock.</summary>
    public long Oversold => Products.Sum(p => Math.Max(0, Math.Max(-p.Remaining, Math.Max(p.UnitsInAcceptedOrders, p.ReservedInRedis - p.ReleasedInRedis) - p.Stock)));
}

public sealed record ProductAudit(
    string Sku, long Stock, long Remaining, long ReservedInRedis, long ReleasedInRedis, long UnitsInAcceptedOrders,
    long UnitsReleasedInPostgres, long? ReservedFromEvents, long? ReleasedFromEvents, bool InvariantHolds, bool PostgresAgrees);

public static class Auditor
{
    public static async Task<SaleAudit> GetAsync(Uri stockUrl, string sale, string adminToken, CancellationToken ct)
    {
        using var http = new HttpClient { BaseAddress = stockUrl, Timeout = TimeSpan.FromSeconds(30) };
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/sales/{sale}/audit");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", adminToken);
        using var response = await http.SendAsync(request, ct);
        if (!response.IsSuccessStatusCode)
            throw new InvalidOperationException($"audit of {sale} failed: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(ct)}");
        return (await response.Content.ReadFromJsonAsync<SaleAudit>(Report.Json, ct))!;
    }

    /// <summary>Polls the audit until the order stream is drained and PostgreSQL holds <paramref name="expectedOrders"/> orders (or the timeout).</summary>
    public static async Task<SaleAudit> WaitForDrainAsync(Uri stockUrl, string sale, string adminToken, long expectedOrders, TimeSpan timeout, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + timeout;
        var started = DateTime.UtcNow;
        while (true)
        {
            var audit = await GetAsync(stockUrl, sale, adminToken, ct);
            Console.Error.Write($"\r  draining: {audit.PendingStreamEntries} orders in the Redis stream, {audit.OrdersInPostgres}{(expectedOrders > 0 ? "/" + expectedOrders : "")} in PostgreSQL ({(DateTime.UtcNow - started).TotalSeconds:F1}s)   ");
            if ((audit.Drained && audit.OrdersInPostgres >= expectedOrders) || DateTime.UtcNow > deadline)
            {
                Console.Error.WriteLine();
                return audit;
            }
            await Task.Delay(250, ct);
        }
    }

    public static string Describe(SaleAudit a)
    {
        var rows = new List<string[]> { new[] { "sku", "stock", "sold", "remaining", "sold+remaining", "units in PG orders", "invariant", "PG agrees" } };
        foreach (var p in a.Products)
        {
            var sold = p.Stock - p.Remaining;
            rows.Add([p.Sku, p.Stock.ToString(), sold.ToString(), p.Remaining.ToString(), (sold + p.Remaining).ToString(),
                p.UnitsInAcceptedOrders.ToString(), p.InvariantHolds ? "ok" : "FAIL", p.PostgresAgrees ? "ok" : "FAIL"]);
        }
        return Report.Table(rows) +
            $"  orders in PostgreSQL: {a.OrdersInPostgres}; pending stream entries: {a.PendingStreamEntries}; duplicate orders: {a.DuplicateOrders}; " +
            $"users over limit: {a.UsersOverLimit}; drained: {a.Drained}; consistent: {a.Consistent}";
    }
}
