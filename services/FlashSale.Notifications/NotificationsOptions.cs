namespace FlashSale.Notifications;

/// <summary>The <c>Notifications</c> configuration section.</summary>
public sealed class NotificationsOptions
{
    public const string LogDelivery = "log";
    public const string SmtpDelivery = "smtp";

    /// <summary>log (default: the message is written to the log sink) or smtp.</summary>
    public string Delivery { get; set; } = LogDelivery;
    public SmtpOptions Smtp { get; set; } = new();
    /// <summary>How often the dispatcher looks for due notifications.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);
    public int BatchSize { get; set; } = 50;
    /// <summary>Permanent failures (the server refused the message) are retried this often before the notification is failed.</summary>
    public int MaxAttempts { get; set; } = 5;
    /// <summary>Backoff after a failure: InitialBackoff x 2^(attempts-1), capped at MaxBackoff, with jitter.</summary>
    public TimeSpan InitialBackoff { get; set; } = TimeSpan.FromSeconds(2);
    public TimeSpan MaxBackoff { get; set; } = TimeSpan.FromMinutes(5);
    /// <summary>A claimed notification is retried after this long if its dispatcher died while sending.</summary>
    public TimeSpan ClaimTimeout { get; set; } = TimeSpan.FromMinutes(1);
    public int MaxPageSize { get; set; } = 100;
}

/// <summary><c>Notifications:Smtp</c>.</summary>
public sealed class SmtpOptions
{
    public string Host { get; set; } = "";
    public int Port { get; set; } = 25;
    /// <summary>none, starttls (required), ssl (implicit TLS) or auto (STARTTLS when offered).</summary>
    public string Security { get; set; } = "auto";
    public string? Username { get; set; }
    public string? Password { get; set; }
    public string From { get; set; } = "FlashSale <noreply@flashsale.local>";
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(10);
}
