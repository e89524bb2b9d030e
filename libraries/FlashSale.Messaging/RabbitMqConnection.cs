using System.Diagnostics;
using RabbitMQ.Client.Events;

namespace FlashSale.Messaging;

/// <summary>The process's single RabbitMQ connection, opened on first use and recovered automatically.</summary>
public interface IRabbitMqConnection
{
    /// <summary>True while the connection is open (false before the first connect and while recovering).</summary>
    bool IsConnected { get; }

    /// <summary>
    /// Returns the connection, connecting on first use. Throws <see cref="RabbitMqUnavailableException"/> when the broker
    /// cannot be reached (attempts are spaced by <see cref="RabbitMqOptions.RecoveryInterval"/>). A returned connection may be
    /// recovering (<see cref="IConnection.IsOpen"/> false): creating a channel on it then throws until it is back.
    /// </summary>
    ValueTask<IConnection> GetConnectionAsync(CancellationToken cancellationToken = default);
}

public sealed class RabbitMqUnavailableException(string message, Exception? inner = null) : Exception(message, inner);

public sealed class RabbitMqConnection : IRabbitMqConnection, IAsyncDisposable
{
    readonly ConnectionFactory _factory;
    readonly RabbitMqOptions _options;
    readonly ILogger<RabbitMqConnection> _logger;
    readonly SemaphoreSlim _gate = new(1, 1);
    readonly string _endpoint;
    IConnection? _connection;
    Exception? _lastFailure;
    long _lastFailureAt;
    bool _disposed;

    public RabbitMqConnection(IOptions<RabbitMqOptions> options, ILogger<RabbitMqConnection> logger)
    {
        _options = options.Value;
        _logger = logger;
        var uri = new Uri(_options.ConnectionString);
        _endpoint = $"{uri.Host}:{(uri.IsDefaultPort ? 5672 : uri.Port)}{uri.AbsolutePath}";
        _factory = new ConnectionFactory
        {
            Uri = uri,
            AutomaticRecoveryEnabled = true,
            // Consumers re-subscribe themselves and the topology is durable and owned by the operator: recovering recorded
            // declarations would resurrect deleted queues and double-subscribe consumers.
            TopologyRecoveryEnabled = false,
            NetworkRecoveryInterval = _options.RecoveryInterval,
            RequestedConnectionTimeout = _options.ConnectTimeout,
            HandshakeContinuationTimeout = _options.ConnectTimeout,
            RequestedHeartbeat = _options.Heartbeat,
            ClientProvidedName = _options.ClientName ?? Process.GetCurrentProcess().ProcessName,
        };
    }

    public bool IsConnected => _connection?.IsOpen == true;

    public ValueTask<IConnection> GetConnectionAsync(CancellationToken cancellationToken = default)
    {
        var c = _connection;
        return c is not null && IsAliveOrRecovering(c) ? ValueTask.FromResult(c) : new ValueTask<IConnection>(ConnectAsync(cancellationToken));
    }

    async Task<IConnection> ConnectAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_connection is { } existing)
            {
                if (IsAliveOrRecovering(existing)) return existing;
                _connection = null;
                await DisposeQuietlyAsync(existing);
            }
            if (_lastFailure is not null && Stopwatch.GetElapsedTime(_lastFailureAt) < _options.RecoveryInterval)
                throw new RabbitMqUnavailableException($"RabbitMQ at {_endpoint} is unreachable: {_lastFailure.Message}", _lastFailure);

            IConnection connection;
            try
            {
                connection = await _factory.CreateConnectionAsync(cancellationToken);
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested)
            {
                _lastFailure = e;
                _lastFailureAt = Stopwatch.GetTimestamp();
                _logger.LogWarning("RabbitMQ at {Endpoint} is unreachable: {Reason}", _endpoint, e.InnerException?.Message ?? e.Message);
                throw new RabbitMqUnavailableException($"RabbitMQ at {_endpoint} is unreachable: {e.Message}", e);
            }
            connection.ConnectionShutdownAsync += OnShutdownAsync;
            connection.RecoverySucceededAsync += OnRecoveredAsync;
            _lastFailure = null;
            _connection = connection;
            _logger.LogInformation("Connected to RabbitMQ at {Endpoint}", _endpoint);
            return connection;
        }
        finally
        {
            _gate.Release();
        }
    }

    // A connection closed by the application or refused by the broker is not recovered by the client library.
    static bool IsAliveOrRecovering(IConnection c) =>
        c.IsOpen || c.CloseReason is { } r && r.Initiator != ShutdownInitiator.Application && r.ReplyCode != Constants.AccessRefused;

    Task OnShutdownAsync(object? sender, ShutdownEventArgs args)
    {
        if (!_disposed)
            _logger.LogWarning("RabbitMQ connection to {Endpoint} lost ({ReplyCode} {ReplyText}); recovering", _endpoint, args.ReplyCode, args.ReplyText);
        return Task.CompletedTask;
    }

    Task OnRecoveredAsync(object? sender, AsyncEventArgs args)
    {
        _logger.LogInformation("RabbitMQ connection to {Endpoint} recovered", _endpoint);
        return Task.CompletedTask;
    }

    static async Task DisposeQuietlyAsync(IConnection c)
    {
        try { await c.DisposeAsync(); } catch (Exception) { /* already broken */ }
    }

    public async ValueTask DisposeAsync()
    {
        await _gate.WaitAsync();
        try
        {
            _disposed = true;
            if (_connection is { } c)
            {
                _connection = null;
                try { await c.CloseAsync(TimeSpan.FromSeconds(5)); } catch (Exception) { /* closing a broken connection */ }
                await DisposeQuietlyAsync(c);
            }
        }
        finally
        {
            _gate.Release();
        }
    }
}
