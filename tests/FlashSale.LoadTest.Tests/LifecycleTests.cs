using System.Net;
using System.Text;
using FlashSale.LoadTest;

namespace FlashSale.LoadTest.Tests;

/// <summary>The lifecycle's reading of a 202 answer, without servers.</summary>
public class LifecycleTests
{
    [Fact]
    public void TheOrderIdOfAnAcceptedOrderComesFromItsLocationOrElseItsBody()
    {
        var id = Guid.CreateVersion7();
        using var located = new HttpResponseMessage(HttpStatusCode.Accepted) { Content = new StringContent("{}") };
        located.Headers.Location = new Uri($"/api/orders/{id}", UriKind.Relative);
        Assert.Equal(id, Lifecycle.OrderIdOf(located));

        using var bodyOnly = new HttpResponseMessage(HttpStatusCode.Accepted)
        {
            Content = new StringContent($$"""{"orderId":"{{id}}","status":"RESERVED","sale":"s","sku":"x","quantity":1}""", Encoding.UTF8, "application/json"),
        };
        Assert.Equal(id, Lifecycle.OrderIdOf(bodyOnly));

        using var neither = new HttpResponseMessage(HttpStatusCode.Accepted) { Content = new StringContent("not json") };
        Assert.Null(Lifecycle.OrderIdOf(neither));
    }
}
