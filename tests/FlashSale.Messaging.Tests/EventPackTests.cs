using System.Text;

namespace FlashSale.Messaging.Tests;

public sealed class EventPackTests
{
    [Fact]
    public void APackUnpacksIntoItsEventsWithTheirIdsTypesAndBodies()
    {
        OutgoingEvent[] events = [Broker.Event("a"), new("b", "order.paid", Encoding.UTF8.GetBytes("\"text\"")), new("c", "order.paid", Encoding.UTF8.GetBytes("[1,{\"x\":2}]"))];

        var pack = EventPack.Pack("order.paid", events);
        var unpacked = EventPack.Unpack(pack.Body.Span);

        Assert.Equal(events.Select(e => (e.MessageId, (string?)e.Type, Encoding.UTF8.GetString(e.Body.Span))),
            unpacked.Select(u => (u.Id, u.Type, Encoding.UTF8.GetString(u.Body))));
        Assert.Equal(3, pack.Headers![EventPack.CountHeader]);
    }

    [Theory]
    [InlineData("{}")]
    [InlineData("[{\"id\":\"a\"}]")]
    [InlineData("[1]")]
    public void ABodyThatIsNotAPackIsRefused(string body) =>
        Assert.ThrowsAny<System.Text.Json.JsonException>(() => EventPack.Unpack(Encoding.UTF8.GetBytes(body)));
}
