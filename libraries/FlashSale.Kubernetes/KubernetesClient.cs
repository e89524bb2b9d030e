using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Runtime.CompilerServices;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization.Metadata;
using FlashSale.Kubernetes.Models;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace FlashSale.Kubernetes;

/// <summary>
/// A small Kubernetes REST client over HttpClient. Its generic surface follows KubernetesClient's
/// (Get/List/Watch/Create/Replace/Apply/Patch/Delete by type), each kind naming its API place through
/// <see cref="IKubernetesResource.ApiResource"/>. Objects of kinds known only at run time go through the
/// <see cref="JsonObject"/> overloads with an <see cref="ApiResource"/>.
/// </summary>
public sealed class KubernetesClient : IDisposable
{
    public const string ApplyPatchContentType = "application/apply-patch+yaml";
    public const string MergePatchContentType = "application/merge-patch+json";

    private static readonly HttpMethod Patch = HttpMethod.Patch;
    private readonly HttpClient http;
    private readonly string baseUrl;
    private readonly KubernetesClientOptions options;
    private readonly ILogger logger;
    private readonly ConcurrentDictionary<(string ApiVersion, string Kind), ApiResource> discovered = new();

    public KubernetesClient(KubernetesClientConfiguration configuration, KubernetesClientOptions? options = null)
    {
        Configuration = configuration;
        this.options = options ?? new KubernetesClientOptions();
        JsonOptions = KubernetesJson.CreateOptions(this.options.TypeInfoResolvers);
        LoggerFactory = this.options.LoggerFactory ?? NullLoggerFactory.Instance;
        logger = LoggerFactory.CreateLogger<KubernetesClient>();
        baseUrl = configuration.Host.ToString().TrimEnd('/');
        http = new HttpClient(CreateHandler(configuration), disposeHandler: true) { Timeout = Timeout.InfiniteTimeSpan };
        http.DefaultRequestHeaders.UserAgent.ParseAdd(this.options.UserAgent);
        http.DefaultRequestHeaders.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
    }

    public KubernetesClientConfiguration Configuration { get; }

    /// <summary>The options every object is (de)serialized with: built-in kinds plus <see cref="KubernetesClientOptions.TypeInfoResolvers"/>.</summary>
    public JsonSerializerOptions JsonOptions { get; }

    internal ILoggerFactory LoggerFactory { get; }

    public void Dispose() => http.Dispose();

    // ---- typed operations -------------------------------------------------------------------

    /// <summary>The object, or null when it does not exist.</summary>
    public Task<T?> GetAsync<T>(string? @namespace, string name, CancellationToken cancellationToken = default)
        where T : class, IKubernetesResource =>
        GetAsync(T.ApiResource, JsonOptions.TypeInfo<T>(), @namespace, name, cancellationToken);

    /// <summary>One page of objects; all of them when <paramref name="limit"/> is null. Pass <see cref="KubernetesList{T}.Continue"/> back for the next page.</summary>
    public Task<KubernetesList<T>> ListAsync<T>(
        string? @namespace,
        string? labelSelector = null,
        string? continueToken = null,
        int? limit = null,
        string? fieldSelector = null,
        CancellationToken cancellationToken = default)
        where T : class, IKubernetesResource =>
        ListAsync(T.ApiResource, JsonOptions.TypeInfo<T>(), @namespace, labelSelector, continueToken, limit, fieldSelector, cancellationToken);

    /// <summary>
    /// One watch connection. Ends when the server closes it (timeout, dropped connection): watch again from the last
    /// version seen. An ERROR event throws; 410 throws <see cref="KubernetesGoneException"/>: list again.
    /// <see cref="ResourceWatcher{T}"/> does all of that.
    /// </summary>
    public IAsyncEnumerable<WatchEvent<T>> WatchAsync<T>(
        string? @namespace,
        string? resourceVersion = null,
        string? labelSelector = null,
        bool allowBookmarks = true,
        int? timeoutSeconds = null,
        CancellationToken cancellationToken = default)
        where T : class, IKubernetesResource =>
        WatchAsync(T.ApiResource, JsonOptions.TypeInfo<T>(), @namespace, resourceVersion, labelSelector, allowBookmarks, timeoutSeconds, cancellationToken);

    public Task<T> CreateAsync<T>(T obj, CancellationToken cancellationToken = default)
        where T : class, IKubernetesResource
    {
        Stamp(obj, T.ApiResource);
        return SendObjectAsync(HttpMethod.Post, T.ApiResource.GetPath(obj.Namespace()), Serialize(obj), "application/json", JsonOptions.TypeInfo<T>(), cancellationToken);
    }

    /// <summary>PUT of the whole object. Its metadata.resourceVersion is the precondition: a stale one throws <see cref="KubernetesConflictException"/>.</summary>
    public Task<T> ReplaceAsync<T>(T obj, CancellationToken cancellationToken = default)
        where T : class, IKubernetesResource
    {
        Stamp(obj, T.ApiResource);
        return SendObjectAsync(HttpMethod.Put, T.ApiResource.GetPath(obj.Namespace(), obj.Name()), Serialize(obj), "application/json", JsonOptions.TypeInfo<T>(), cancellationToken);
    }

    /// <summary>PUT to the status subresource: only status changes.</summary>
    public Task<T> ReplaceStatusAsync<T>(T obj, CancellationToken cancellationToken = default)
        where T : class, IKubernetesResource
    {
        Stamp(obj, T.ApiResource);
        return SendObjectAsync(HttpMethod.Put, T.ApiResource.GetPath(obj.Namespace(), obj.Name(), "status"), Serialize(obj), "application/json", JsonOptions.TypeInfo<T>(), cancellationToken);
    }

    /// <summary>
    /// Server-side apply: the object holds exactly the fields <paramref name="fieldManager"/> wants to own; fields it
    /// applied before and no longer sends are removed. <paramref name="force"/> takes fields owned by other managers.
    /// </summary>
    public Task<T> ApplyAsync<T>(T obj, string fieldManager, bool force = false, CancellationToken cancellationToken = default)
        where T : class, IKubernetesResource
    {
        Stamp(obj, T.ApiResource);
        return ApplyAsync(T.ApiResource, Serialize(obj), obj.Namespace(), obj.Name(), null, fieldManager, force, JsonOptions.TypeInfo<T>(), cancellationToken);
    }

    /// <summary>Server-side apply to the status subresource (send apiVersion, kind, metadata name/namespace and status).</summary>
    public Task<T> ApplyStatusAsync<T>(T obj, string fieldManager, bool force = false, CancellationToken cancellationToken = default)
        where T : class, IKubernetesResource
    {
        Stamp(obj, T.ApiResource);
        return ApplyAsync(T.ApiResource, Serialize(obj), obj.Namespace(), obj.Name(), "status", fieldManager, force, JsonOptions.TypeInfo<T>(), cancellationToken);
    }

    /// <summary>JSON merge patch (RFC 7386): null removes a field; a metadata.resourceVersion in the patch is a precondition.</summary>
    public Task<T> MergePatchAsync<T>(string? @namespace, string name, JsonNode patch, string? fieldManager = null, CancellationToken cancellationToken = default)
        where T : class, IKubernetesResource =>
        SendObjectAsync(Patch, T.ApiResource.GetPath(@namespace, name) + Query(("fieldManager", fieldManager)), Encode(patch), MergePatchContentType, JsonOptions.TypeInfo<T>(), cancellationToken);

    /// <summary>JSON merge patch of the status subresource.</summary>
    public Task<T> PatchStatusAsync<T>(string? @namespace, string name, JsonNode patch, string? fieldManager = null, CancellationToken cancellationToken = default)
        where T : class, IKubernetesResource =>
        SendObjectAsync(Patch, T.ApiResource.GetPath(@namespace, name, "status") + Query(("fieldManager", fieldManager)), Encode(patch), MergePatchContentType, JsonOptions.TypeInfo<T>(), cancellationToken);

    /// <summary>
    /// Deletes the object. Returns it while it is still there (finalizers pending, deletionTimestamp set), null once it is gone.
    /// A missing object throws <see cref="KubernetesNotFoundException"/>.
    /// </summary>
    public Task<T?> DeleteAsync<T>(
        string? @namespace,
        string name,
        PropagationPolicy? propagationPolicy = null,
        string? resourceVersion = null,
        CancellationToken cancellationToken = default)
        where T : class, IKubernetesResource =>
        DeleteAsync(T.ApiResource, JsonOptions.TypeInfo<T>(), @namespace, name, propagationPolicy, resourceVersion, cancellationToken);

    // ---- objects of kinds known at run time ---------------------------------------------------

    public Task<JsonObject?> GetAsync(ApiResource resource, string? @namespace, string name, CancellationToken cancellationToken = default) =>
        GetAsync(resource, JsonObjectInfo, @namespace, name, cancellationToken);

    public Task<KubernetesList<JsonObject>> ListAsync(
        ApiResource resource,
        string? @namespace,
        string? labelSelector = null,
        string? continueToken = null,
        int? limit = null,
        CancellationToken cancellationToken = default) =>
        ListAsync(resource, JsonObjectInfo, @namespace, labelSelector, continueToken, limit, null, cancellationToken);

    public IAsyncEnumerable<WatchEvent<JsonObject>> WatchAsync(
        ApiResource resource,
        string? @namespace,
        string? resourceVersion = null,
        string? labelSelector = null,
        bool allowBookmarks = true,
        int? timeoutSeconds = null,
        CancellationToken cancellationToken = default) =>
        WatchAsync(resource, JsonObjectInfo, @namespace, resourceVersion, labelSelector, allowBookmarks, timeoutSeconds, cancellationToken);

    /// <summary>Server-side apply of an object given as JSON; its apiVersion and kind are filled from <paramref name="resource"/> when missing.</summary>
    public Task<JsonObject> ApplyAsync(ApiResource resource, JsonObject obj, string fieldManager, bool force = false, CancellationToken cancellationToken = default)
    {
        obj["apiVersion"] ??= resource.ApiVersion;
        obj["kind"] ??= resource.Kind;
        var metadata = obj["metadata"] as JsonObject ?? throw new ArgumentException("The object has no metadata.", nameof(obj));
        var name = metadata["name"]?.GetValue<string>() ?? throw new ArgumentException("The object has no metadata.name.", nameof(obj));
        var ns = metadata["namespace"]?.GetValue<string>();
        return ApplyAsync(resource, Encode(obj), ns, name, null, fieldManager, force, JsonObjectInfo, cancellationToken);
    }

    /// <summary>Server-side apply of an object given only as JSON: its kind is looked up through discovery (e.g. a ServiceMonitor).</summary>
    public async Task<JsonObject> ApplyAsync(JsonObject obj, string fieldManager, bool force = false, CancellationToken cancellationToken = default)
    {
        var apiVersion = obj["apiVersion"]?.GetValue<string>() ?? throw new ArgumentException("The object has no apiVersion.", nameof(obj));
        var kind = obj["kind"]?.GetValue<string>() ?? throw new ArgumentException("The object has no kind.", nameof(obj));
        var resource = await DiscoverAsync(apiVersion, kind, cancellationToken).ConfigureAwait(false)
            ?? throw new KubernetesNotFoundException(null, $"The server does not serve kind {kind} in {apiVersion}.");
        return await ApplyAsync(resource, obj, fieldManager, force, cancellationToken).ConfigureAwait(false);
    }

    public Task<JsonObject?> DeleteAsync(
        ApiResource resource,
        string? @namespace,
        string name,
        PropagationPolicy? propagationPolicy = null,
        CancellationToken cancellationToken = default) =>
        DeleteAsync(resource, JsonObjectInfo, @namespace, name, propagationPolicy, null, cancellationToken);

    /// <summary>Where the server serves <paramref name="kind"/> of <paramref name="apiVersion"/>, or null when it does not (discovery, cached).</summary>
    public async Task<ApiResource?> DiscoverAsync(string apiVersion, string kind, CancellationToken cancellationToken = default)
    {
        if (discovered.TryGetValue((apiVersion, kind), out var known))
        {
            return known;
        }

        var (group, version) = ApiResource.SplitApiVersion(apiVersion);
        var path = group.Length == 0 ? $"/api/{version}" : $"/apis/{group}/{version}";
        var list = await RequestAsync(HttpMethod.Get, path, null, null, JsonOptions.TypeInfo<V1APIResourceList>(), allowNotFound: true, cancellationToken).ConfigureAwait(false);
        var entry = list?.Resources?.FirstOrDefault(r => r.Kind == kind && r.Name is not null && !r.Name.Contains('/'));
        if (entry is null)
        {
            return null;
        }

        var resource = new ApiResource(group, version, kind, entry.Name!, entry.Namespaced);
        discovered[(apiVersion, kind)] = resource;
        return resource;
    }

    /// <summary>Whether a CustomResourceDefinition exists, by its name ("servicemonitors.monitoring.coreos.com").</summary>
    public async Task<bool> CustomResourceDefinitionExistsAsync(string name, CancellationToken cancellationToken = default) =>
        await GetAsync<V1CustomResourceDefinition>(null, name, cancellationToken).ConfigureAwait(false) is not null;

    // ---- shared implementation ----------------------------------------------------------------

    private JsonTypeInfo<JsonObject> JsonObjectInfo => JsonOptions.TypeInfo<JsonObject>();

    private Task<T?> GetAsync<T>(ApiResource resource, JsonTypeInfo<T> info, string? @namespace, string name, CancellationToken cancellationToken)
        where T : class =>
        RequestAsync(HttpMethod.Get, resource.GetPath(@namespace, name), null, null, info, allowNotFound: true, cancellationToken);

    private async Task<KubernetesList<T>> ListAsync<T>(
        ApiResource resource,
        JsonTypeInfo<T> info,
        string? @namespace,
        string? labelSelector,
        string? continueToken,
        int? limit,
        string? fieldSelector,
        CancellationToken cancellationToken)
        where T : class
    {
        var path = resource.GetPath(@namespace) + Query(
            ("labelSelector", labelSelector),
            ("fieldSelector", fieldSelector),
            ("limit", limit?.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            ("continue", continueToken));
        var body = await RequestBytesAsync(HttpMethod.Get, path, null, null, allowNotFound: false, cancellationToken).ConfigureAwait(false);
        using var document = JsonDocument.Parse(body!);
        var root = document.RootElement;
        var metadata = root.TryGetProperty("metadata", out var m) ? m.Deserialize(JsonOptions.TypeInfo<V1ListMeta>()) ?? new V1ListMeta() : new V1ListMeta();
        var items = new List<T>();
        if (root.TryGetProperty("items", out var array) && array.ValueKind == JsonValueKind.Array)
        {
            foreach (var element in array.EnumerateArray())
            {
                var item = element.Deserialize(info) ?? throw new JsonException($"A null item in the list of {resource.Plural}.");
                Stamp(item, resource);
                items.Add(item);
            }
        }

        return new KubernetesList<T>(items, metadata);
    }

    private async IAsyncEnumerable<WatchEvent<T>> WatchAsync<T>(
        ApiResource resource,
        JsonTypeInfo<T> info,
        string? @namespace,
        string? resourceVersion,
        string? labelSelector,
        bool allowBookmarks,
        int? timeoutSeconds,
        [EnumeratorCancellation] CancellationToken cancellationToken)
        where T : class
    {
        var path = resource.GetPath(@namespace) + Query(
            ("watch", "1"),
            ("resourceVersion", resourceVersion),
            ("labelSelector", labelSelector),
            ("allowWatchBookmarks", allowBookmarks ? "true" : null),
            ("timeoutSeconds", timeoutSeconds?.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        using var response = await SendAsync(HttpMethod.Get, path, null, null, streaming: true, cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            var error = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
            throw ToException(response.StatusCode, "GET", path, error);
        }

        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false), Encoding.UTF8);
        while (true)
        {
            var line = await ReadWatchLineAsync(reader, path, cancellationToken).ConfigureAwait(false);
            if (line is null)
            {
                yield break;
            }

            if (line.Length == 0)
            {
                continue;
            }

            if (ParseWatchLine(line, resource, info, path) is { } watchEvent)
            {
                yield return watchEvent;
            }
        }
    }

    private async Task<string?> ReadWatchLineAsync(StreamReader reader, string path, CancellationToken cancellationToken)
    {
        try
        {
            return await reader.ReadLineAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or HttpRequestException && !cancellationToken.IsCancellationRequested)
        {
            // A watch connection that breaks is a watch that ended: the caller resumes from the last version it saw.
            logger.LogDebug(e, "Watch {Path} connection ended: {Message}", path, e.Message);
            return null;
        }
    }

    private WatchEvent<T>? ParseWatchLine<T>(string line, ApiResource resource, JsonTypeInfo<T> info, string path)
        where T : class
    {
        string? type;
        T? obj;
        try
        {
            using var document = JsonDocument.Parse(line);
            type = document.RootElement.GetProperty("type").GetString();
            var element = document.RootElement.GetProperty("object");
            if (type == "ERROR")
            {
                var status = element.Deserialize(JsonOptions.TypeInfo<V1Status>());
                var code = (HttpStatusCode)(status?.Code ?? 500);
                throw KubernetesApiException.From(code, status, "WATCH", path, line);
            }

            obj = element.Deserialize(info);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            // As kubernetes-client does: a line that cannot be read is reported and skipped.
            logger.LogWarning(e, "Watch {Path} sent an unreadable event, skipped: {Line}", path, line.Length > 300 ? line[..300] : line);
            return null;
        }

        var eventType = type switch
        {
            "ADDED" => WatchEventType.Added,
            "MODIFIED" => WatchEventType.Modified,
            "DELETED" => WatchEventType.Deleted,
            "BOOKMARK" => WatchEventType.Bookmark,
            _ => (WatchEventType?)null,
        };
        if (eventType is null || obj is null)
        {
            logger.LogWarning("Watch {Path} sent an event of unknown type {Type}, skipped", path, type);
            return null;
        }

        Stamp(obj, resource);
        return new WatchEvent<T>(eventType.Value, obj);
    }

    private Task<T> ApplyAsync<T>(
        ApiResource resource,
        byte[] body,
        string? @namespace,
        string name,
        string? subresource,
        string fieldManager,
        bool force,
        JsonTypeInfo<T> info,
        CancellationToken cancellationToken)
        where T : class
    {
        ArgumentException.ThrowIfNullOrEmpty(fieldManager);
        var path = resource.GetPath(@namespace, name, subresource) + Query(("fieldManager", fieldManager), ("force", force ? "true" : null));
        return SendObjectAsync(Patch, path, body, ApplyPatchContentType, info, cancellationToken);
    }

    private async Task<T?> DeleteAsync<T>(
        ApiResource resource,
        JsonTypeInfo<T> info,
        string? @namespace,
        string name,
        PropagationPolicy? propagationPolicy,
        string? resourceVersion,
        CancellationToken cancellationToken)
        where T : class
    {
        var deleteOptions = new V1DeleteOptions
        {
            PropagationPolicy = propagationPolicy?.ToString(),
            Preconditions = resourceVersion is null ? null : new V1Preconditions { ResourceVersion = resourceVersion },
        };
        var body = await RequestBytesAsync(
            HttpMethod.Delete,
            resource.GetPath(@namespace, name),
            JsonSerializer.SerializeToUtf8Bytes(deleteOptions, JsonOptions.TypeInfo<V1DeleteOptions>()),
            "application/json",
            allowNotFound: false,
            cancellationToken).ConfigureAwait(false);

        // The server answers with the object while it waits for finalizers, with a Status once it is gone.
        using var document = JsonDocument.Parse(body!);
        if (document.RootElement.TryGetProperty("kind", out var kind) && kind.GetString() == "Status")
        {
            return null;
        }

        var obj = document.RootElement.Deserialize(info);
        if (obj is not null)
        {
            Stamp(obj, resource);
        }

        return obj;
    }

    private async Task<T> SendObjectAsync<T>(HttpMethod method, string path, byte[] body, string contentType, JsonTypeInfo<T> info, CancellationToken cancellationToken)
        where T : class =>
        await RequestAsync(method, path, body, contentType, info, allowNotFound: false, cancellationToken).ConfigureAwait(false)
        ?? throw new JsonException($"{method} {path} answered with an empty object.");

    private async Task<T?> RequestAsync<T>(HttpMethod method, string path, byte[]? body, string? contentType, JsonTypeInfo<T> info, bool allowNotFound, CancellationToken cancellationToken)
        where T : class
    {
        var bytes = await RequestBytesAsync(method, path, body, contentType, allowNotFound, cancellationToken).ConfigureAwait(false);
        return bytes is null ? null : JsonSerializer.Deserialize(bytes, info);
    }

    /// <summary>The response body of a successful request; null for a 404 when <paramref name="allowNotFound"/>.</summary>
    private async Task<byte[]?> RequestBytesAsync(HttpMethod method, string path, byte[]? body, string? contentType, bool allowNotFound, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.RequestTimeout);
        try
        {
            using var response = await SendAsync(method, path, body, contentType, streaming: false, timeout.Token).ConfigureAwait(false);
            var bytes = await response.Content.ReadAsByteArrayAsync(timeout.Token).ConfigureAwait(false);
            if (response.IsSuccessStatusCode)
            {
                return bytes;
            }

            if (allowNotFound && response.StatusCode == HttpStatusCode.NotFound)
            {
                return null;
            }

            throw ToException(response.StatusCode, method.Method, path, Encoding.UTF8.GetString(bytes));
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"{method} {path} took longer than {options.RequestTimeout}.");
        }
    }

    /// <summary>Sends with retries: 429 after Retry-After, 500/503/504 and broken connections with exponential backoff.</summary>
    private async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, byte[]? body, string? contentType, bool streaming, CancellationToken cancellationToken)
    {
        var retry = options.Retry;
        for (var attempt = 1; ; attempt++)
        {
            using var request = new HttpRequestMessage(method, baseUrl + path);
            if (body is not null)
            {
                request.Content = new ByteArrayContent(body);
                request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType!);
            }

            Authorize(request);
            HttpResponseMessage response;
            try
            {
                response = await http.SendAsync(request, streaming ? HttpCompletionOption.ResponseHeadersRead : HttpCompletionOption.ResponseContentRead, cancellationToken)
                    .ConfigureAwait(false);
            }
            catch (HttpRequestException e) when (attempt < retry.MaxAttempts && method != HttpMethod.Post && !cancellationToken.IsCancellationRequested)
            {
                var wait = Backoff(attempt);
                logger.LogWarning("{Method} {Path} failed ({Message}); attempt {Attempt} of {MaxAttempts}, retrying in {Delay}", method, path, e.Message, attempt, retry.MaxAttempts, wait);
                await Task.Delay(wait, cancellationToken).ConfigureAwait(false);
                continue;
            }

            var code = (int)response.StatusCode;
            if (attempt < retry.MaxAttempts && code is 429 or 500 or 503 or 504)
            {
                var wait = RetryAfter(response) ?? Backoff(attempt);
                logger.LogWarning("{Method} {Path} answered {Status}; attempt {Attempt} of {MaxAttempts}, retrying in {Delay}", method, path, code, attempt, retry.MaxAttempts, wait);
                response.Dispose();
                await Task.Delay(wait, cancellationToken).ConfigureAwait(false);
                continue;
            }

            return response;
        }
    }

    private TimeSpan Backoff(int attempt)
    {
        var retry = options.Retry;
        var exponential = retry.InitialBackoff * Math.Pow(2, attempt - 1);
        var capped = exponential < retry.MaxBackoff ? exponential : retry.MaxBackoff;
        return capped * (0.9 + (Random.Shared.NextDouble() * 0.2));
    }

    private TimeSpan? RetryAfter(HttpResponseMessage response)
    {
        var header = response.Headers.RetryAfter;
        TimeSpan? wait = header?.Delta ?? (header?.Date is { } date ? date - DateTimeOffset.UtcNow : null);
        if (wait is null)
        {
            return null;
        }

        return wait < TimeSpan.Zero ? TimeSpan.Zero : wait > options.Retry.MaxRetryAfter ? options.Retry.MaxRetryAfter : wait;
    }

    private void Authorize(HttpRequestMessage request)
    {
        var token = Configuration.AccessToken ?? Configuration.TokenFile?.GetToken();
        if (!string.IsNullOrEmpty(token))
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
        else if (Configuration.Username is not null)
        {
            var basic = Convert.ToBase64String(Encoding.UTF8.GetBytes($"{Configuration.Username}:{Configuration.Password}"));
            request.Headers.Authorization = new AuthenticationHeaderValue("Basic", basic);
        }
    }

    private KubernetesApiException ToException(HttpStatusCode code, string method, string path, string body)
    {
        V1Status? status = null;
        try
        {
            if (body.Length > 0 && body.TrimStart().StartsWith('{'))
            {
                var parsed = JsonSerializer.Deserialize(body, JsonOptions.TypeInfo<V1Status>());
                status = parsed?.Kind == "Status" ? parsed : null;
            }
        }
        catch (JsonException)
        {
            // Not a Status: the body goes into the message as text.
        }

        return KubernetesApiException.From(code, status, method, path, body);
    }

    private byte[] Serialize<T>(T obj)
        where T : class => JsonSerializer.SerializeToUtf8Bytes(obj, JsonOptions.TypeInfo<T>());

    private byte[] Encode(JsonNode node) => JsonSerializer.SerializeToUtf8Bytes(node, JsonOptions.TypeInfo<JsonNode>());

    private static void Stamp<T>(T obj, ApiResource resource)
    {
        switch (obj)
        {
            case IKubernetesObject typed:
                typed.ApiVersion ??= resource.ApiVersion;
                typed.Kind ??= resource.Kind;
                break;
            case JsonObject json:
                json["apiVersion"] ??= resource.ApiVersion;
                json["kind"] ??= resource.Kind;
                break;
        }
    }

    internal static string Query(params (string Name, string? Value)[] parameters)
    {
        var builder = new StringBuilder();
        foreach (var (name, value) in parameters)
        {
            if (value is null)
            {
                continue;
            }

            builder.Append(builder.Length == 0 ? '?' : '&').Append(name).Append('=').Append(Uri.EscapeDataString(value));
        }

        return builder.ToString();
    }

    private static SocketsHttpHandler CreateHandler(KubernetesClientConfiguration configuration)
    {
        var handler = new SocketsHttpHandler
        {
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            ConnectTimeout = TimeSpan.FromSeconds(10),
        };
        if (configuration.TlsServerName is not null)
        {
            handler.SslOptions.TargetHost = configuration.TlsServerName;
        }

        if (configuration.ClientCertificate is { } certificate)
        {
            handler.SslOptions.ClientCertificates = [certificate];
            handler.SslOptions.LocalCertificateSelectionCallback = (_, _, _, _, _) => certificate;
        }

        var caCertificates = configuration.SslCaCerts;
        handler.SslOptions.RemoteCertificateValidationCallback = (_, serverCertificate, chain, errors) =>
        {
            if (configuration.SkipTlsVerify || errors == SslPolicyErrors.None)
            {
                return true;
            }

            // Only an untrusted root may be forgiven, and only by the configured certificate authority.
            if (caCertificates is null || serverCertificate is null || errors != SslPolicyErrors.RemoteCertificateChainErrors)
            {
                return false;
            }

            using var customChain = new X509Chain();
            customChain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            customChain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            customChain.ChainPolicy.CustomTrustStore.AddRange(caCertificates);
            if (chain is not null)
            {
                foreach (var element in chain.ChainElements)
                {
                    customChain.ChainPolicy.ExtraStore.Add(element.Certificate);
                }
            }

            return customChain.Build(serverCertificate as X509Certificate2 ?? X509CertificateLoader.LoadCertificate(serverCertificate.GetRawCertData()));
        };
        return handler;
    }
}
