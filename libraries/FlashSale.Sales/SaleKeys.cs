using StackExchange.Redis;

namespace FlashSale.Sales;

/// <summary>
/// The Redis key schema of one sale. Every key shares the hash tag <c>{namespace/sale}</c>, so one sale's keys live
/// in one slot and its Lua scripts stay valid on Redis Cluster.
/// </summary>
public sealed class SaleKeys
{
    public SaleKeys(string @namespace, string sale)
    {
        Namespace = @namespace;
        Sale = sale;
        Tag = "{" + @namespace + "/" + sale + "}";
        var p = "fs:" + Tag + ":";
        Meta = p + "meta";
        Remaining = p + "remaining";
        Initial = p + "initial";
        Limit = p + "limit";
        Price = p + "price";
        Names = p + "names";
        Reserved = p + "reserved";
        Released = p + "released";
        ReleasedOrders = p + "released-orders";
        Bought = p + "bought";
        Stream = p + "orders";
        RelayLease = p + "relay-lease";
        Pending = p + "pending";
        IdempotencyPrefix = p + "idem:";
    }

    public string Namespace { get; }
    public string Sale { get; }
    public string Tag { get; }
    public RedisKey Meta { get; }
    /// <summary>Hash sku -> units left to sell.</summary>
    public RedisKey Remaining { get; }
    /// <summary>Hash sku -> the stock of the sale (as declared, including later additions).</summary>
    public RedisKey Initial { get; }
    public RedisKey Limit { get; }
    public RedisKey Price { get; }
    /// <summary>Hash sku -> the product's display name (as declared in spec.products).</summary>
    public RedisKey Names { get; }
    /// <summary>Hash sku -> units ever reserved (accepted orders).</summary>
    public RedisKey Reserved { get; }
    /// <summary>Hash sku -> units returned to stock by expired orders.</summary>
    public RedisKey Released { get; }
    public RedisKey ReleasedOrders { get; }
    /// <summary>Hash "user|sku" -> units the user holds (reserved minus released).</summary>
    public RedisKey Bought { get; }
    /// <summary>The sale's order stream: the outbox the relay drains into PostgreSQL.</summary>
    public RedisKey Stream { get; }
    /// <summary>Hash order id -> stream entry id of the orders in <see cref="Stream"/> (written by reserve.lua, deleted as the relay trims).</summary>
    public RedisKey Pending { get; }
    /// <summary>The orders replica relaying the stream (a string with a TTL, renewed while it works).</summary>
    public RedisKey RelayLease { get; }
    public string IdempotencyPrefix { get; }

    public RedisKey Idempotency(Guid userId, string key) => Idempotency(userId.ToString("N"), key);

    /// <summary>The same key for a user id already formatted as 32 hex digits (<c>Guid.ToString("N")</c>).</summary>
    public RedisKey Idempotency(string userIdN, string key) => IdempotencyPrefix + userIdN + ":" + key;

    /// <summary>Not hash-tagged: the set of sale names of a namespace, written by preload and read by relays.</summary>
    public static RedisKey Registry(string @namespace) => "fs:sales:" + @namespace;

    public RedisKey[] All => [Meta, Remaining, Initial, Limit, Price, Names, Reserved, Released, ReleasedOrders, Bought, Stream, RelayLease, Pending];
}
