namespace FlashSale.Messaging;

/// <summary>
/// RabbitMQ settings: the broker URI from <c>ConnectionStrings:RabbitMq</c>, tuning from the <c>RabbitMq</c> section.
/// </summary>
public sealed class RabbitMqOptions
{
    public const string SectionName = "RabbitMq";
    public const string ConnectionStringPath = "ConnectionStrings:RabbitMq";

    /// <summary>amqp:// or amqps:// URI (from <c>ConnectionStrings:RabbitMq</c>).</summary>
    public string ConnectionString { get; set; } = "";

    /// <summary>Kubernetes namespace of the sale (<c>RabbitMq:Namespace</c>); with <see cref="Sale"/> it names the topology.</summary>
    public string Namespace { get; set; } = "default";

    /// <summary>Sale this service works for (<c>RabbitMq:Sale</c>); when empty no sale topology is checked.</summary>
    public string? Sale { get; set; }

    /// <summary>Connection name shown by the broker (<c>RabbitMq:ClientName</c>); defaults to the process name.</summary>
    public string? ClientName { get; set; }

    /// <summary>Publisher channels kept open, i.e. how many publish calls run side by side (<c>RabbitMq:PublisherChannels</c>).</summary>
    public int PublisherChannels { get; set; } = 4;

    /// <summary>How long a publish waits for the broker's confirms before it throws (<c>RabbitMq:PublishTimeout</c>).</summary>
    public TimeSpan PublishTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>TCP connect + handshake timeout (<c>RabbitMq:ConnectTimeout</c>).</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Pause between reconnection attempts, by the client library and by this package (<c>RabbitMq:RecoveryInterval</c>).</summary>
    public TimeSpan RecoveryInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>AMQP heartbeat (<c>RabbitMq:Heartbeat</c>).</summary>
    public TimeSpan Heartbeat { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The configured sale's topology, or null when <see cref="Sale"/> is not set.</summary>
    public SaleTopology? GetSaleTopology() => string.IsNullOrWhiteSpace(Sale) ? null : new SaleTopology(Namespace, Sale);
}
