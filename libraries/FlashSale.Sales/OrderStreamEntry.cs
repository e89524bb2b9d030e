using System.Buffers.Text;
using System.Globalization;
using System.Text;
using StackExchange.Redis;

namespace FlashSale.Sales;

/// <summary>
/// An accepted order as reserve.lua appends it to the sale's stream (the outbox the relay drains into PostgreSQL).
/// <para>
/// An entry has one field, <c>o</c>: <c>id|user|quantity|price|ts|sku|length of key|key|email</c> (the
/// user id in "N" format, ts in Unix milliseconds). The sku cannot hold a '|' (the sale definition refuses it); the
/// idempotency key can, hence its length (in UTF-8 bytes, as Lua counts them); the e-mail is the rest. One field instead
/// of eight makes the entry cheaper at every step: the script's XADD and its AOF record, the relay's read, the reply
/// StackExchange.Redis parses. Entries with eight fields (<c>id, user, sku, qty, price, key, ts, email</c>) are read too,
/// so a stream written by an older orders replica during a rolling upgrade drains whole.
/// </para>
/// </summary>
public sealed record OrderStreamEntry(Guid OrderId, Guid UserId, string Sku, int Quantity, decimal UnitPrice, DateTimeOffset ReservedAt,
    string IdempotencyKey, string? BuyerEmail)
{
    public const string Field = "o";

    /// <summary>False for an entry that is neither format (or deleted while pending); the relay logs and skips it.</summary>
    public static bool TryParse(StreamEntry entry, out OrderStreamEntry parsed)
    {
        parsed = null!;
        if (entry.IsNull) return false;
        var values = entry.Values;
        if (values.Length == 1 && values[0].Name == Field) return TryParsePacked((byte[]?)values[0].Value, out parsed);
        string? id = null, user = null, sku = null, qty = null, price = null, ts = null, key = null, email = null;
        foreach (var v in values)
        {
            switch ((string?)v.Name)
            {
                case "id": id = v.Value; break;
                case "user": user = v.Value; break;
                case "sku": sku = v.Value; break;
                case "qty": qty = v.Value; break;
                case "price": price = v.Value; break;
                case "ts": ts = v.Value; break;
                case "key": key = v.Value; break;
                case "email": email = v.Value; break;
            }
        }
        return TryCreate(id, user, qty, price, ts, sku, key, email, out parsed);
    }

    /// <summary>The packed value reserve.lua writes for an order (the same layout, for tests and tools).</summary>
    public static string Pack(Guid orderId, Guid userId, int quantity, string price, long reservedAtMs, string sku, string idempotencyKey, string? email) =>
        string.Join('|', orderId.ToString(), userId.ToString("N"), quantity.ToString(CultureInfo.InvariantCulture), price,
            reservedAtMs.ToString(CultureInfo.InvariantCulture), sku, Encoding.UTF8.GetByteCount(idempotencyKey).ToString(CultureInfo.InvariantCulture),
            idempotencyKey, email ?? "");

    internal static bool TryParsePacked(byte[]? value, out OrderStreamEntry parsed)
    {
        // UTF-8 bytes, as Lua's # counts the key's length (the orders API admits ASCII keys only; other callers need not).
        parsed = null!;
        if (value is null) return false;
        ReadOnlySpan<byte> s = value;
        Span<Range> parts = stackalloc Range[8]; // id, user, qty, price, ts, sku, key length, then "key|email"
        var start = 0;
        for (var i = 0; i < 7; i++)
        {
            var bar = s[start..].IndexOf((byte)'|');
            if (bar < 0) return false;
            parts[i] = new Range(start, start + bar);
            start += bar + 1;
        }
        parts[7] = new Range(start, s.Length);
        if (!Utf8Parser.TryParse(s[parts[6]], out int keyLength, out var used) || used != s[parts[6]].Length) return false;
        var rest = s[parts[7]];
        if (keyLength < 1 || rest.Length <= keyLength || rest[keyLength] != (byte)'|') return false;
        if (!Whole(s[parts[0]], out Guid orderId, 'D') || !Whole(s[parts[1]], out Guid userId, 'N') || !Whole(s[parts[2]], out int quantity)
            || !Whole(s[parts[3]], out decimal unitPrice) || !Whole(s[parts[4]], out long ms) || s[parts[5]].IsEmpty) return false;
        var utf8 = Encoding.UTF8;
        var email = rest[(keyLength + 1)..];
        parsed = new OrderStreamEntry(orderId, userId, utf8.GetString(s[parts[5]]), quantity, unitPrice, DateTimeOffset.FromUnixTimeMilliseconds(ms),
            utf8.GetString(rest[..keyLength]), email.IsEmpty ? null : utf8.GetString(email));
        return true;
    }

    static bool Whole(ReadOnlySpan<byte> b, out Guid value, char format) => Utf8Parser.TryParse(b, out value, out var n, format) && n == b.Length;
    static bool Whole(ReadOnlySpan<byte> b, out int value) => Utf8Parser.TryParse(b, out value, out var n) && n == b.Length && value > 0;
    static bool Whole(ReadOnlySpan<byte> b, out long value) => Utf8Parser.TryParse(b, out value, out var n) && n == b.Length && value >= 0;
    static bool Whole(ReadOnlySpan<byte> b, out decimal value) => Utf8Parser.TryParse(b, out value, out var n) && n == b.Length;

    static bool TryCreate(ReadOnlySpan<char> id, ReadOnlySpan<char> user, ReadOnlySpan<char> qty, ReadOnlySpan<char> price, ReadOnlySpan<char> ts,
        string? sku, string? key, string? email, out OrderStreamEntry parsed)
    {
        parsed = null!;
        if (!Guid.TryParse(id, out var orderId) || !Guid.TryParse(user, out var userId) || string.IsNullOrEmpty(sku) || string.IsNullOrEmpty(key)
            || !int.TryParse(qty, NumberStyles.None, CultureInfo.InvariantCulture, out var quantity)
            || !long.TryParse(ts, NumberStyles.None, CultureInfo.InvariantCulture, out var ms)
            || !decimal.TryParse(price, NumberStyles.Number, CultureInfo.InvariantCulture, out var unitPrice)) return false;
        parsed = new OrderStreamEntry(orderId, userId, sku, quantity, unitPrice, DateTimeOffset.FromUnixTimeMilliseconds(ms), key,
            string.IsNullOrEmpty(email) ? null : email);
        return true;
    }
}
