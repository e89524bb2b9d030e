using System.Collections.Concurrent;

namespace FlashSale.Orders.Tests;

public class OrderIdsTests
{
    [Fact]
    public void IdsAreVersion7WithTheirMillisecondFirstAndUniqueAcrossThreads()
    {
        var before = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var ids = new ConcurrentBag<Guid>();
        Parallel.For(0, 8, _ =>
        {
            for (var i = 0; i < 25_000; i++) ids.Add(OrderIds.New());
        });
        var after = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

        Assert.Equal(200_000, ids.Distinct().Count());
        Assert.All(ids, id =>
        {
            Assert.Equal(7, id.Version);
            Assert.InRange(id.Variant, 0x8, 0xB); // RFC 9562 variant: bits 10
            var bytes = id.ToByteArray(bigEndian: true);
            var ms = (long)bytes[0] << 40 | (long)bytes[1] << 32 | (long)bytes[2] << 24 | (long)bytes[3] << 16 | (long)bytes[4] << 8 | bytes[5];
            Assert.InRange(ms, before, after);
        });
        // The random part really varies (not a counter, not a constant): every byte position takes many values.
        var sample = ids.Take(5_000).Select(id => id.ToByteArray(bigEndian: true)).ToList();
        for (var b = 9; b < 16; b++) Assert.True(sample.Select(x => x[b]).Distinct().Count() > 200, $"byte {b} barely varies");
    }

    [Fact]
    public void AnIdSortsByItsTimeLikeGuidCreateVersion7()
    {
        var at = DateTimeOffset.Parse("2026-11-23T01:02:03.456Z");
        var ours = OrderIds.New(at).ToByteArray(bigEndian: true);
        var dotnet = Guid.CreateVersion7(at).ToByteArray(bigEndian: true);
        Assert.Equal(dotnet[..6], ours[..6]);
        Assert.True(string.CompareOrdinal(OrderIds.New(at.AddMilliseconds(1)).ToString(), OrderIds.New(at).ToString()) > 0);
    }
}
