using MailKit;
using MailKit.Net.Smtp;
using MailKit.Security;
using MimeKit;

namespace FlashSale.Notifications.Delivery;

public sealed record OutgoingNotification(Guid Id, string Recipient, string Template, string Subject, string Body);

/// <summary>A delivery that failed for good (the server refused the message or the recipient); retried up to MaxAttempts.</summary>
public sealed class PermanentDeliveryException(string message, Exception? inner = null) : Exception(message, inner);

public interface INotificationSender
{
    /// <summary>Delivers or throws: <see cref="PermanentDeliveryException"/> when retrying cannot help, anything else when it may.</summary>
    Task SendAsync(OutgoingNotification n, CancellationToken ct);
}

/// <summary>The default sink: the notification is written to the log.</summary>
public sealed class LogSender(ILogger<LogSender> logger) : INotificationSender
{
    public Task SendAsync(OutgoingNotification n, CancellationToken ct)
    {
        logger.LogInformation("Notification {NotificationId} ({Template}) to {Recipient}: {Subject} - {Body}", n.Id, n.Template, n.Recipient, n.Subject, n.Body);
        return Task.CompletedTask;
    }
}

/// <summary>SMTP delivery with MailKit: host, port, TLS mode and optional credentials from Notifications:Smtp.</summary>
public sealed class SmtpSender(IOptions<NotificationsOptions> options) : INotificationSender
{
    public async Task SendAsync(OutgoingNotification n, CancellationToken ct)
    {
        var o = options.Value.Smtp;
        if (!MailboxAddress.TryParse(n.Recipient, out var to) || string.IsNullOrEmpty(to.Address))
            throw new PermanentDeliveryException($"no valid email address for the buyer ('{n.Recipient}')");
        var message = new MimeMessage();
        message.From.Add(MailboxAddress.Parse(o.From));
        message.To.Add(to);
        message.Subject = n.Subject;
        message.MessageId = MimeKit.Utils.MimeUtils.GenerateMessageId();
        message.Headers.Add("X-FlashSale-Notification", n.Id.ToString());
        message.Body = new TextPart("plain") { Text = n.Body };

        using var client = new SmtpClient { Timeout = (int)o.Timeout.TotalMilliseconds };
        var security = o.Security.ToLowerInvariant() switch
        {
            "none" => SecureSocketOptions.None,
            "starttls" => SecureSocketOptions.StartTls,
            "ssl" => SecureSocketOptions.SslOnConnect,
            _ => SecureSocketOptions.Auto,
        };
        try
        {
            await client.ConnectAsync(o.Host, o.Port, security, ct);
            if (!string.IsNullOrEmpty(o.Username)) await client.AuthenticateAsync(o.Username, o.Password ?? "", ct);
            await client.SendAsync(message, ct);
            await client.DisconnectAsync(true, ct);
        }
        catch (SmtpCommandException e) when ((int)e.StatusCode >= 500)
        {
            throw new PermanentDeliveryException($"SMTP server refused: {(int)e.StatusCode} {e.Message}", e);
        }
        catch (AuthenticationException e)
        {
            throw new PermanentDeliveryException($"SMTP authentication failed: {e.Message}", e);
        }
    }
}
