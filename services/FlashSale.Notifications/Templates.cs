using System.Globalization;
using FlashSale.Contracts;

namespace FlashSale.Notifications;

/// <summary>The message of each order event: template name, subject and plain-text body.</summary>
public static class Templates
{
    public const string OrderReserved = "order-reserved";
    public const string OrderPaid = "order-paid";
    public const string OrderExpired = "order-expired";

    public static (string Template, string Subject, string Body) Render(OrderEvent e)
    {
        var item = $"{e.Quantity} x {e.Sku} ({(e.UnitPrice * e.Quantity).ToString("0.00", CultureInfo.InvariantCulture)} {e.Currency})";
        return e.Type switch
        {
            OrderEventTypes.Reserved => (OrderReserved, $"Order {e.OrderId} reserved",
                $"Your order {e.OrderId} for {item} in sale {e.Sale} is reserved. Please pay by {e.PaymentDueAt:u}."),
            OrderEventTypes.Paid => (OrderPaid, $"Order {e.OrderId} paid",
                $"Thank you: your order {e.OrderId} for {item} in sale {e.Sale} is paid."),
            OrderEventTypes.Expired => (OrderExpired, $"Order {e.OrderId} expired",
                $"Your order {e.OrderId} for {item} in sale {e.Sale} was not paid in time and has expired."),
            _ => throw new InvalidOperationException($"no notification template for event type '{e.Type}'"),
        };
    }
}
