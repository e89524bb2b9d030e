// A CRUD-mode fake of the Kubernetes API server for tests (after fabric8's mock server and kubernetes-client's
// MockKubeApiServer): Kestrel on a loopback port, objects kept in memory per group/version/resource.
//
// What it does as the real server does:
//   - one monotonically increasing resourceVersion for every write; uid, creationTimestamp, generation (moved by
//     changes outside metadata and status, and by a deletion that waits for finalizers); no-op writes change nothing;
//   - 409 Conflict on a stale resourceVersion (PUT, merge patch, apply, delete preconditions), 409 AlreadyExists on
//     create of a taken name, 404 NotFound, 422 on generateName-less nameless objects and on finalizers added during
//     deletion; errors are Status objects;
//   - status subresource: for kinds that have one, writes to /status change only status, writes to the object (and
//     create) ignore status;
//   - server-side apply (PATCH application/apply-patch+yaml with a JSON body, fieldManager, force) APPROXIMATED: each
//     manager's applied leaf fields are recorded; an apply merges its fields in (objects key by key; lists and scalars
//     whole: every list is atomic here), removes the fields it applied before and no longer sends unless another
//     manager owns them, and reports a 409 conflict when a field another manager owns (by apply or by update) would
//     change value, unless forced; updates take ownership of the fields they change;
//   - JSON merge patch (RFC 7386) of objects and of /status;
//   - a delete answered with the object while finalizers hold it, else with a Status (a Service: with the object);
//   - finalizers and deletionTimestamp; propagation policies Background (default), Foreground and Orphan; background
//     garbage collection of dependents whose owners (by uid) are all gone, and removal of dangling owner references;
//   - label selectors (=, ==, !=, in, notin, exists, !exists), metadata.name/namespace field selectors, limit and
//     continue tokens (410 once compacted);
//   - watch: line-delimited events in commit order, resume from a resourceVersion, label-selector transitions as
//     ADDED/DELETED, bookmarks (allowWatchBookmarks) on demand or on a timer, a compaction window after which old
//     versions get an ERROR event with a 410 Expired Status, timeoutSeconds;
//   - discovery (/api, /apis, /api/v1, /apis/{group}/{version}) and CustomResourceDefinitions: registering a kind
//     stores its CRD, and creating a CRD registers its kinds.
//
// What it cannot catch (test those against a real cluster: `make kind-up deploy e2e`):
//   - schema validation (OpenAPI, required fields, types, formats), CEL rules and ratcheting, pruning of unknown fields;
//   - defaulting (e.g. a Deployment's strategy, a Service's clusterIP, a container's imagePullPolicy) and the
//     field-ownership effects of defaults;
//   - admission (webhooks, ValidatingAdmissionPolicy, quotas, LimitRanges, PodSecurity), authentication and RBAC:
//     every request is allowed (compare the recorded requests with a Role instead);
//   - real field-ownership rules: associative lists (containers by name, ports by containerPort...), granular
//     structured-merge-diff ownership, conflicts between managers are approximated as above; managedFields are not
//     returned; strategic merge patch and JSON patch are not supported (415, answered before the body is read);
//   - built-in controllers: no Deployment makes ReplicaSets or Pods, no status is ever set unless a test sets it
//     (SetStatus/Modify), HPAs do not scale, Endpoints are not made, namespaces are not objects (any name exists, and
//     deleting one deletes nothing);
//   - a list's consistent snapshot (continued pages read the current state), multiple versions of one resource with
//     conversion, dryRun (rejected with 400), server-side field selectors beyond name/namespace, watch-list streaming
//     (sendInitialEvents), graceful deletion periods, Events TTL, etcd size limits.
using System.Net;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using k8s;
using k8s.Models;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace FlashSale.Kubernetes.Fake;

public sealed class FakeKubeApiServerOptions
{
    /// <summary>How many write events the watch history keeps; a watch or continue token older than that gets 410.</summary>
    public int CompactionWindow { get; set; } = 10_000;

    /// <summary>Sends bookmarks to watches that allow them at this interval; null sends them only through <see cref="FakeKubeApiServer.SendBookmarks"/>.</summary>
    public TimeSpan? BookmarkInterval { get; set; }

    /// <summary>Serves HTTPS with this certificate (with its private key) instead of HTTP.</summary>
    public X509Certificate2? ServerCertificate { get; set; }

    /// <summary>With HTTPS: asks for a client certificate and refuses connections without one signed by this authority.</summary>
    public X509Certificate2? ClientCertificateAuthority { get; set; }
}

/// <summary>One request the fake received, with the Kubernetes verb it counts as for RBAC.</summary>
public sealed record RecordedRequest
{
    public required string Method { get; init; }

    /// <summary>get, list, watch, create, update, patch, delete, deletecollection; "get" for discovery.</summary>
    public required string Verb { get; init; }

    public required string Path { get; init; }

    public required string Query { get; init; }

    public string? Group { get; init; }

    public string? Version { get; init; }

    /// <summary>The plural resource name; null for discovery and other non-resource paths.</summary>
    public string? Resource { get; init; }

    public string? Subresource { get; init; }

    public string? Namespace { get; init; }

    public string? Name { get; init; }

    public string? ContentType { get; init; }

    public string? FieldManager { get; init; }

    public string? Authorization { get; init; }

    public string? UserAgent { get; init; }

    public string? ClientCertificateSubject { get; init; }

    /// <summary>The HTTP status answered (200 for a watch that started).</summary>
    public int StatusCode { get; internal set; }

    /// <summary>"resource" or "resource/subresource", as an RBAC rule names it.</summary>
    public string? RbacResource => Resource is null ? null : Subresource is null ? Resource : $"{Resource}/{Subresource}";
}

public sealed class FakeKubeApiServer : IAsyncDisposable
{
    public const string ApplyPatchContentType = "application/apply-patch+yaml";
    public const string MergePatchContentType = "application/merge-patch+json";

    static readonly ApiResource[] BuiltInKinds =
    [
        ApiResource.Of<V1ConfigMap>(),
        ApiResource.Of<V1Secret>(),
        ApiResource.Of<V1Service>(),
        ApiResource.Of<V1Pod>(),
        ApiResource.Of<V1ServiceAccount>(),
        ApiResource.Of<Corev1Event>(),
        ApiResource.Of<V1Namespace>(namespaced: false),
        ApiResource.Of<V1Deployment>(),
        ApiResource.Of<V1ReplicaSet>(),
        ApiResource.Of<V1StatefulSet>(),
        ApiResource.Of<V2HorizontalPodAutoscaler>(),
        ApiResource.Of<V1PodDisruptionBudget>(),
        ApiResource.Of<V1Ingress>(),
        ApiResource.Of<V1Lease>(),
        ApiResource.Of<Eventsv1Event>(),
        ApiResource.Of<V1CustomResourceDefinition>(namespaced: false),
        ApiResource.Of<V1Role>(),
        ApiResource.Of<V1RoleBinding>(),
    ];

    // As the real registry's ReturnDeletedObject: a deleted Service is answered with the object, other kinds with a Status.
    static readonly HashSet<string> KindsAnsweringDeletesWithTheObject = ["services"];
    static readonly HashSet<string> KindsWithoutStatus = ["configmaps", "secrets", "serviceaccounts", "events", "leases", "roles", "rolebindings"];
    static readonly HashSet<string> BuiltInGroups = [.. BuiltInKinds.Select(k => k.Group)];

    readonly WebApplication _app;
    readonly FakeStore _store;
    readonly FakeKubeApiServerOptions _options;
    readonly List<RecordedRequest> _requests = [];
    readonly Queue<(Func<RecordedRequest, bool> When, int Status, TimeSpan? RetryAfter)> _failures = new();
    readonly CancellationTokenSource _stopping = new();
    readonly Task _garbageCollector;
    readonly Task? _bookmarkTimer;
    TaskCompletionSource _watchGate = CreateOpenGate();

    FakeKubeApiServer(WebApplication app, FakeKubeApiServerOptions options)
    {
        _app = app;
        _options = options;
        _store = new FakeStore(_options.CompactionWindow);
        foreach (var kind in BuiltInKinds)
        {
            _store.RegisterKind(kind, !KindsWithoutStatus.Contains(kind.Plural));
        }

        _garbageCollector = Task.Run(RunGarbageCollectorAsync);
        if (_options.BookmarkInterval is { } interval)
        {
            _bookmarkTimer = Task.Run(async () =>
            {
                using var timer = new PeriodicTimer(interval);
                while (await timer.WaitForNextTickAsync(_stopping.Token).ConfigureAwait(false))
                {
                    _store.SendBookmarks();
                }
            });
        }
    }

    /// <summary>http(s)://127.0.0.1:port</summary>
    public Uri BaseAddress { get; private set; } = null!;

    /// <summary>The newest resourceVersion.</summary>
    public string ResourceVersion => _store.ResourceVersion.ToString(System.Globalization.CultureInfo.InvariantCulture);

    public int OpenWatchCount => _store.WatchCount;

    public int CompactionWindow
    {
        get => _store.CompactionWindow;
        set => _store.CompactionWindow = value;
    }

    /// <summary>Every request received so far, in order.</summary>
    public IReadOnlyList<RecordedRequest> Requests
    {
        get
        {
            lock (_requests)
            {
                return [.. _requests];
            }
        }
    }

    public static async Task<FakeKubeApiServer> StartAsync(FakeKubeApiServerOptions? options = null)
    {
        options ??= new FakeKubeApiServerOptions();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrelHttpsConfiguration();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0, listen =>
        {
            if (options.ServerCertificate is { } certificate)
            {
                listen.UseHttps(new HttpsConnectionAdapterOptions
                {
                    ServerCertificate = certificate,
                    ClientCertificateMode = options.ClientCertificateAuthority is null ? ClientCertificateMode.NoCertificate : ClientCertificateMode.RequireCertificate,
                    ClientCertificateValidation = (client, _, _) => options.ClientCertificateAuthority is { } authority && IsSignedBy(client, authority),
                });
            }
        }));
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(2));
        var app = builder.Build();
        var server = new FakeKubeApiServer(app, options);
        app.Run(server.HandleAsync);
        await app.StartAsync().ConfigureAwait(false);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        server.BaseAddress = new Uri(address);
        return server;
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        _store.DropWatches(abort: false);
        _watchGate.TrySetResult();
        await _app.StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
        try
        {
            await Task.WhenAll(_bookmarkTimer is null ? [_garbageCollector] : [_garbageCollector, _bookmarkTimer]).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Stopped.
        }

        _stopping.Dispose();
    }

    // ---- clients -----------------------------------------------------------------------------------

    /// <summary>A configuration of the official client that reaches this server; with HTTPS pass the CA (or skip verification) yourself.</summary>
    public KubernetesClientConfiguration CreateConfiguration(string? accessToken = null) => new()
    {
        Host = BaseAddress.ToString(),
        Namespace = "default",
        AccessToken = accessToken,
    };

    /// <summary>An official client of this server, with the given handlers (retries, for one) in its HTTP pipeline.</summary>
    public IKubernetes CreateClient(params DelegatingHandler[] handlers) => new k8s.Kubernetes(CreateConfiguration(), handlers);

    // ---- kinds -------------------------------------------------------------------------------------

    /// <summary>Serves a custom kind, and stores its CustomResourceDefinition (for kinds outside the built-in groups).</summary>
    public void RegisterKind(ApiResource resource, bool hasStatusSubresource = true)
    {
        _store.RegisterKind(resource, hasStatusSubresource);
        if (BuiltInGroups.Contains(resource.Group))
        {
            return;
        }

        var crd = _store.Kind(ApiResource.Of<V1CustomResourceDefinition>(namespaced: false));
        var name = resource.GroupResource;
        var version = new JsonObject { ["name"] = resource.Version, ["served"] = true, ["storage"] = true };
        if (hasStatusSubresource)
        {
            version["subresources"] = new JsonObject { ["status"] = new JsonObject() };
        }

        var definition = new JsonObject
        {
            ["metadata"] = new JsonObject { ["name"] = name },
            ["spec"] = new JsonObject
            {
                ["group"] = resource.Group,
                ["scope"] = resource.Namespaced ? "Namespaced" : "Cluster",
                ["names"] = new JsonObject { ["kind"] = resource.Kind, ["listKind"] = resource.Kind + "List", ["plural"] = resource.Plural, ["singular"] = resource.Kind.ToLowerInvariant() },
                ["versions"] = new JsonArray(version),
            },
            ["status"] = new JsonObject
            {
                ["conditions"] = new JsonArray(new JsonObject { ["type"] = "Established", ["status"] = "True", ["reason"] = "InitialNamesAccepted" }),
                ["storedVersions"] = new JsonArray(resource.Version),
            },
        };
        if (_store.Get(crd, null, name) is null)
        {
            _store.Create(crd, null, definition, "fake-kube-apiserver", keepStatus: true);
        }
    }

    /// <summary>Serves the kind a model names in its [KubernetesEntity] attribute.</summary>
    public void RegisterKind<T>(bool namespaced = true, bool hasStatusSubresource = true) => RegisterKind(ApiResource.Of<T>(namespaced), hasStatusSubresource);

    /// <summary>Where the server serves the kind of <typeparamref name="T"/> (its scope as registered).</summary>
    public ApiResource KindOf<T>()
    {
        var named = ApiResource.Of<T>();
        return (_store.FindKind(named.Group, named.Version, named.Plural)
            ?? throw new InvalidOperationException($"The fake API server does not know {named.GroupResource}/{named.Version}: register the kind first.")).Resource;
    }

    // ---- inspection and seeding --------------------------------------------------------------------

    /// <summary>A copy of the stored object, or null.</summary>
    public JsonObject? GetObject(ApiResource resource, string? @namespace, string name) => _store.Get(_store.Kind(resource), @namespace, name);

    public T? Get<T>(string? @namespace, string name)
        where T : class =>
        GetObject(KindOf<T>(), @namespace, name) is { } found ? KubernetesJson.Deserialize<T>(found) : null;

    public IReadOnlyList<JsonObject> ListObjects(ApiResource resource, string? @namespace = null) =>
        _store.List(_store.Kind(resource), @namespace, LabelSelector.Everything, FieldSelector.Parse(null), null, null).Items;

    public IReadOnlyList<T> List<T>(string? @namespace = null)
        where T : class =>
        [.. ListObjects(KindOf<T>(), @namespace).Select(o => KubernetesJson.Deserialize<T>(o))];

    /// <summary>Stores an object as created (uid, resourceVersion, generation 1), keeping the status it carries.</summary>
    public JsonObject Seed(ApiResource resource, JsonObject obj)
    {
        var ns = resource.Namespaced ? JsonTree.String(obj["metadata"]?["namespace"]) ?? "default" : null;
        return _store.Create(_store.Kind(resource), ns, obj, "fake-seed", keepStatus: true);
    }

    public T Seed<T>(T obj)
        where T : class =>
        KubernetesJson.Deserialize<T>(Seed(KindOf<T>(), ToJson(obj)));

    /// <summary>Sets an object's status directly, as its controller would (e.g. mark a Deployment available); watches see a MODIFIED event.</summary>
    public JsonObject SetStatus(ApiResource resource, string? @namespace, string name, JsonNode status) =>
        _store.Write(_store.Kind(resource), @namespace, name, obj =>
        {
            obj["status"] = status.DeepClone();
            return obj;
        });

    public T SetStatus<T>(string? @namespace, string name, object status)
        where T : class =>
        KubernetesJson.Deserialize<T>(SetStatus(KindOf<T>(), @namespace, name, ToJson(status)));

    /// <summary>Changes a stored object in any way (spec, status, metadata), as another actor would; generation moves with spec changes.</summary>
    public T Modify<T>(string? @namespace, string name, Action<T> change)
        where T : class =>
        KubernetesJson.Deserialize<T>(_store.Write(_store.Kind(KindOf<T>()), @namespace, name, obj =>
        {
            var typed = KubernetesJson.Deserialize<T>(obj);
            change(typed);
            return ToJson(typed);
        }));

    /// <summary>The fields each manager owns, keyed "manager (Apply|Update[, subresource])", paths like ".spec.replicas".</summary>
    public IReadOnlyDictionary<string, HashSet<string>> GetManagedFields(ApiResource resource, string? @namespace, string name) =>
        _store.ManagedFields(_store.Kind(resource), @namespace, name);

    // ---- watches and faults ------------------------------------------------------------------------

    /// <summary>Cuts every open watch connection (abort: a broken connection; otherwise a clean end of the response). Returns how many.</summary>
    public int DropWatches(bool abort = true) => _store.DropWatches(abort);

    /// <summary>New watch requests wait (before they are registered) until the returned handle is disposed.</summary>
    public IDisposable HoldWatches()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Interlocked.Exchange(ref _watchGate, gate).TrySetResult();
        return new Release(() =>
        {
            gate.TrySetResult();
            Interlocked.CompareExchange(ref _watchGate, CreateOpenGate(), gate);
        });
    }

    /// <summary>Sends a BOOKMARK with the newest resourceVersion to every open watch that allows bookmarks.</summary>
    public void SendBookmarks() => _store.SendBookmarks();

    /// <summary>Forgets the watch history: versions older than now get 410.</summary>
    public void Compact() => _store.Compact();

    /// <summary>Answers the next <paramref name="count"/> matching requests with <paramref name="status"/> (and Retry-After) without handling them.</summary>
    public void FailNextRequests(int count, HttpStatusCode status, TimeSpan? retryAfter = null, Func<RecordedRequest, bool>? when = null)
    {
        lock (_failures)
        {
            for (var i = 0; i < count; i++)
            {
                _failures.Enqueue((when ?? (_ => true), (int)status, retryAfter));
            }
        }
    }

    public void ClearRequests()
    {
        lock (_requests)
        {
            _requests.Clear();
        }
    }

    // ---- HTTP --------------------------------------------------------------------------------------

    async Task HandleAsync(HttpContext context)
    {
        var route = Route.Parse(context.Request.Path.Value ?? "/", _store);
        var request = Record(context, route);
        context.Response.OnStarting(() =>
        {
            request.StatusCode = context.Response.StatusCode;
            return Task.CompletedTask;
        });
        try
        {
            if (TakeFailure(request) is { } failure)
            {
                if (failure.RetryAfter is { } retryAfter)
                {
                    context.Response.Headers.RetryAfter = ((int)Math.Ceiling(retryAfter.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
                }

                throw new ApiError(failure.Status, failure.Status == 429 ? "TooManyRequests" : "InternalError", $"injected failure {failure.Status}");
            }

            if (context.Request.Query.ContainsKey("dryRun"))
            {
                throw new ApiError(400, "BadRequest", "the fake API server does not support dryRun");
            }

            if (route.Discovery is not null)
            {
                await WriteJsonAsync(context, 200, route.Discovery(_store)).ConfigureAwait(false);
                return;
            }

            var kind = route.Kind ?? throw new ApiError(404, "NotFound", "the server could not find the requested resource");
            if (route.Subresource is not null && (route.Subresource != "status" || !kind.HasStatus))
            {
                throw new ApiError(404, "NotFound", "the server could not find the requested resource");
            }

            if (kind.Resource.Namespaced && route.Namespace is null && (route.Name is not null || request.Method == "POST"))
            {
                throw new ApiError(404, "NotFound", $"{kind.Resource.Kind} is namespaced: the request needs a namespace");
            }

            await HandleResourceAsync(context, kind, route, request).ConfigureAwait(false);
        }
        catch (ApiError error)
        {
            if (!context.Response.HasStarted)
            {
                await WriteJsonAsync(context, error.Code, FakeStore.StatusObject(error.Code, error.Reason, error.Message, error.Details)).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is not OperationCanceledException && !context.Response.HasStarted)
        {
            // A bug in the fake, reported to the client as the real server reports its own failures.
            await WriteJsonAsync(context, 500, FakeStore.StatusObject(500, "InternalError", $"fake API server failure: {e}", null)).ConfigureAwait(false);
        }
    }

    async Task HandleResourceAsync(HttpContext context, KindState kind, Route route, RecordedRequest request)
    {
        var query = context.Request.Query;
        var manager = request.FieldManager ?? DefaultManager(request.UserAgent);
        switch (request.Verb)
        {
            case "get":
                var found = _store.Get(kind, route.Namespace, route.Name!) ?? throw new ApiError(404, "NotFound", $"{kind.Resource.GroupResource} \"{route.Name}\" not found", FakeStore.Details(kind, route.Name!));
                await WriteJsonAsync(context, 200, found).ConfigureAwait(false);
                break;
            case "list":
                var limit = int.TryParse(query["limit"], out var l) ? l : (int?)null;
                var (items, version, next, remaining) = _store.List(kind, route.Namespace, LabelSelector.Parse(query["labelSelector"]), FieldSelector.Parse(query["fieldSelector"]), limit, query["continue"]);
                foreach (var item in items)
                {
                    // The real server leaves apiVersion and kind out of a typed list's items.
                    item.Remove("apiVersion");
                    item.Remove("kind");
                }

                var listMetadata = new JsonObject { ["resourceVersion"] = version };
                if (next is not null)
                {
                    listMetadata["continue"] = next;
                    listMetadata["remainingItemCount"] = remaining;
                }

                await WriteJsonAsync(context, 200, new JsonObject
                {
                    ["kind"] = kind.Resource.Kind + "List",
                    ["apiVersion"] = kind.Resource.ApiVersion,
                    ["metadata"] = listMetadata,
                    ["items"] = new JsonArray([.. items]),
                }).ConfigureAwait(false);
                break;
            case "watch":
                await WatchAsync(context, kind, route).ConfigureAwait(false);
                break;
            case "create":
                await WriteJsonAsync(context, 201, _store.Create(kind, route.Namespace, await ReadObjectAsync(context).ConfigureAwait(false), manager)).ConfigureAwait(false);
                break;
            case "update":
                await WriteJsonAsync(context, 200, _store.Replace(kind, route.Namespace, route.Name!, await ReadObjectAsync(context).ConfigureAwait(false), route.Subresource, manager)).ConfigureAwait(false);
                break;
            case "patch":
                // The type first: a JSON-patch body (an array) is refused as a type, not as a body it cannot read.
                var contentType = request.ContentType?.Split(';')[0].Trim();
                if (contentType is not (MergePatchContentType or ApplyPatchContentType))
                {
                    throw new ApiError(415, "UnsupportedMediaType", $"the fake API server does not support patch type \"{contentType}\"");
                }

                var body = await ReadObjectAsync(context).ConfigureAwait(false);
                if (contentType == MergePatchContentType)
                {
                    await WriteJsonAsync(context, 200, _store.MergePatch(kind, route.Namespace, route.Name!, body, route.Subresource, manager)).ConfigureAwait(false);
                    break;
                }

                if (request.FieldManager is null)
                {
                    throw new ApiError(400, "BadRequest", "PATCH, application/apply-patch+yaml: fieldManager is required for apply requests");
                }

                var force = query["force"] == "true";
                var (applied, created) = _store.Apply(kind, route.Namespace, route.Name!, body, route.Subresource, request.FieldManager, force);
                await WriteJsonAsync(context, created ? 201 : 200, applied).ConfigureAwait(false);
                break;
            case "delete":
                var deleteOptions = context.Request.ContentLength is > 0 || context.Request.Headers.TransferEncoding.Count > 0
                    ? await ReadObjectAsync(context).ConfigureAwait(false)
                    : [];
                var policy = JsonTree.String(deleteOptions["propagationPolicy"]) ?? (string?)query["propagationPolicy"];
                var lastState = KindsAnsweringDeletesWithTheObject.Contains(kind.Resource.Plural) ? _store.Get(kind, route.Namespace, route.Name!) : null;
                var remainingObject = _store.Delete(
                    kind,
                    route.Namespace,
                    route.Name!,
                    policy,
                    JsonTree.String(deleteOptions["preconditions"]?["resourceVersion"]),
                    JsonTree.String(deleteOptions["preconditions"]?["uid"]));
                await WriteJsonAsync(context, 200, remainingObject ?? lastState ?? FakeStore.StatusObject(200, string.Empty, string.Empty, FakeStore.Details(kind, route.Name!))).ConfigureAwait(false);
                break;
            case "deletecollection":
                var selector = LabelSelector.Parse(query["labelSelector"]);
                foreach (var item in _store.List(kind, route.Namespace, selector, FieldSelector.Parse(query["fieldSelector"]), null, null).Items)
                {
                    try
                    {
                        _store.Delete(kind, JsonTree.String(item["metadata"]?["namespace"]), JsonTree.String(item["metadata"]?["name"])!, query["propagationPolicy"], null, null);
                    }
                    catch (ApiError e) when (e.Code == 404)
                    {
                        // Collected meanwhile.
                    }
                }

                await WriteJsonAsync(context, 200, FakeStore.StatusObject(200, string.Empty, string.Empty, null)).ConfigureAwait(false);
                break;
            default:
                throw new ApiError(405, "MethodNotAllowed", $"the server does not allow this method on the requested resource");
        }
    }

    async Task WatchAsync(HttpContext context, KindState kind, Route route)
    {
        var query = context.Request.Query;
        var labels = LabelSelector.Parse(query["labelSelector"]);
        await Volatile.Read(ref _watchGate).Task.WaitAsync(context.RequestAborted).ConfigureAwait(false);
        var (watcher, errorLine) = _store.StartWatch(kind, route.Namespace, labels, query["resourceVersion"], query["allowWatchBookmarks"] == "true");
        context.Response.StatusCode = 200;
        context.Response.ContentType = "application/json";
        await context.Response.StartAsync(context.RequestAborted).ConfigureAwait(false);
        if (errorLine is not null)
        {
            await WriteLineAsync(context, errorLine, context.RequestAborted).ConfigureAwait(false);
            return;
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, _stopping.Token);
        if (int.TryParse(query["timeoutSeconds"], out var seconds) && seconds > 0)
        {
            timeout.CancelAfter(TimeSpan.FromSeconds(seconds));
        }

        try
        {
            await foreach (var line in watcher!.Lines.Reader.ReadAllAsync(timeout.Token).ConfigureAwait(false))
            {
                await WriteLineAsync(context, line, timeout.Token).ConfigureAwait(false);
            }

            if (watcher.Aborted)
            {
                context.Abort();
            }
        }
        catch (OperationCanceledException)
        {
            // Timed out, the client went away, or the server stops: the response ends.
        }
        catch (IOException)
        {
            // The client went away.
        }
        finally
        {
            _store.StopWatch(watcher!);
        }
    }

    static async Task WriteLineAsync(HttpContext context, string line, CancellationToken cancellationToken)
    {
        await context.Response.Body.WriteAsync(Encoding.UTF8.GetBytes(line + "\n"), cancellationToken).ConfigureAwait(false);
        await context.Response.Body.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    static async Task WriteJsonAsync(HttpContext context, int status, JsonNode body)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(body.ToJsonString(), context.RequestAborted).ConfigureAwait(false);
    }

    static async Task<JsonObject> ReadObjectAsync(HttpContext context)
    {
        try
        {
            return await JsonNode.ParseAsync(context.Request.Body, cancellationToken: context.RequestAborted).ConfigureAwait(false) as JsonObject
                ?? throw new ApiError(400, "BadRequest", "the body is not a JSON object");
        }
        catch (JsonException e)
        {
            // YAML apply bodies are valid on a real server; this fake reads JSON only (the client sends JSON).
            throw new ApiError(400, "BadRequest", $"the fake API server accepts JSON bodies only: {e.Message}");
        }
    }

    RecordedRequest Record(HttpContext context, Route route)
    {
        var method = context.Request.Method;
        var query = context.Request.Query;
        var verb = (method, route.Name is not null) switch
        {
            ("GET", true) => "get",
            ("GET", false) when route.Kind is null => "get",
            ("GET", false) => query["watch"] is { Count: > 0 } watch && watch[0] is "1" or "true" ? "watch" : "list",
            ("POST", _) => "create",
            ("PUT", _) => "update",
            ("PATCH", _) => "patch",
            ("DELETE", true) => "delete",
            ("DELETE", false) => "deletecollection",
            _ => method.ToLowerInvariant(),
        };
        var request = new RecordedRequest
        {
            Method = method,
            Verb = verb,
            Path = context.Request.Path.Value ?? "/",
            Query = context.Request.QueryString.Value ?? string.Empty,
            Group = route.Group,
            Version = route.Version,
            Resource = route.Kind?.Resource.Plural ?? route.Plural,
            Subresource = route.Subresource,
            Namespace = route.Namespace,
            Name = route.Name,
            ContentType = context.Request.ContentType,
            FieldManager = query["fieldManager"].FirstOrDefault(),
            Authorization = context.Request.Headers.Authorization.FirstOrDefault(),
            UserAgent = context.Request.Headers.UserAgent.FirstOrDefault(),
            ClientCertificateSubject = context.Connection.ClientCertificate?.Subject,
        };
        lock (_requests)
        {
            _requests.Add(request);
        }

        return request;
    }

    (int Status, TimeSpan? RetryAfter)? TakeFailure(RecordedRequest request)
    {
        lock (_failures)
        {
            if (_failures.Count > 0 && _failures.Peek().When(request))
            {
                var (_, status, retryAfter) = _failures.Dequeue();
                return (status, retryAfter);
            }

            return null;
        }
    }

    async Task RunGarbageCollectorAsync()
    {
        try
        {
            while (await _store.GarbageCollectionSignals.WaitToReadAsync(_stopping.Token).ConfigureAwait(false))
            {
                _store.GarbageCollectionSignals.TryRead(out _);
                while (_store.CollectGarbage())
                {
                    // Until a pass changes nothing: a collected dependent may own dependents of its own.
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Stopped.
        }
    }

    static JsonObject ToJson(object obj) => JsonNode.Parse(KubernetesJson.Serialize(obj))!.AsObject();

    static string DefaultManager(string? userAgent) =>
        string.IsNullOrEmpty(userAgent) ? "unknown" : userAgent.Split('/', ' ')[0];

    static bool IsSignedBy(X509Certificate2 certificate, X509Certificate2 authority)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.CustomTrustStore.Add(authority);
        return chain.Build(certificate);
    }

    static TaskCompletionSource CreateOpenGate()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        gate.SetResult();
        return gate;
    }

    sealed class Release(Action release) : IDisposable
    {
        public void Dispose() => release();
    }
}
