using System.Buffers.Binary;
using System.Security.Cryptography;

namespace FlashSale.Orders;

/// <summary>
/// New order ids: version 7 UUIDs (RFC 9562: 48-bit Unix milliseconds, then 74 random bits), as
/// <see cref="Guid.CreateVersion7()"/> makes them, but with the random bits taken from a per-thread buffer of cryptographic
/// randomness filled 100 ids at a time: <see cref="Guid.CreateVersion7()"/> makes a <c>getrandom</c> call per id.
/// </summary>
public static class OrderIds
{
    const int IdsPerFill = 100;
    [ThreadStatic] static byte[]? ThreadRandom;
    [ThreadStatic] static int ThreadNext;

    public static Guid New() => New(DateTimeOffset.UtcNow);

    public static Guid New(DateTimeOffset at)
    {
        var random = ThreadRandom;
        if (random is null || ThreadNext == random.Length)
        {
            random ??= ThreadRandom = new byte[IdsPerFill * 10];
            RandomNumberGenerator.Fill(random);
            ThreadNext = 0;
        }
        Span<byte> id = stackalloc byte[16];
        BinaryPrimitives.WriteInt64BigEndian(id, at.ToUnixTimeMilliseconds() << 16);
        random.AsSpan(ThreadNext, 10).CopyTo(id[6..]);
        ThreadNext += 10;
        id[6] = (byte)(0x70 | (id[6] & 0x0F)); // version 7
        id[8] = (byte)(0x80 | (id[8] & 0x3F)); // variant 10
        return new Guid(id, bigEndian: true);
    }
}
