using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using System.Threading.Channels;

namespace FlashSale.Kubernetes.Fake;

/// <summary>An API error answered as a Status object.</summary>
sealed class ApiError(int code, string reason, string message, JsonObject? details = null) : Exception(message)
{
    public int Code { get; } = code;

    public string Reason { get; } = reason;

    public JsonObject? Details { get; } = details;
}

sealed class KindState(ApiResource resource, bool hasStatus)
{
    public ApiResource Resource { get; } = resource;

    public bool HasStatus { get; set; } = hasStatus;

    public SortedDictionary<string, StoredObject> Objects { get; } = new(StringComparer.Ordinal);
}

sealed class StoredObject(JsonObject obj)
{
    public JsonObject Object { get; set; } = obj;

    /// <summary>Field ownership: (manager, operation, subresource) to the leaf paths it owns.</summary>
    public Dictionary<(string Manager, string Operation, string Subresource), HashSet<string>> Managed { get; } = [];
}

sealed record HistoryEntry(long Version, KindState Kind, string Type, JsonObject? Before, JsonObject After, string Line);

sealed class Watcher(KindState kind, string? @namespace, LabelSelector selector, bool bookmarks)
{
    public KindState Kind { get; } = kind;

    public string? Namespace { get; } = @namespace;

    public LabelSelector Selector { get; } = selector;

    public bool Bookmarks { get; } = bookmarks;

    public Channel<string> Lines { get; } = Channel.CreateUnbounded<string>(new UnboundedChannelOptions { SingleReader = true });

    /// <summary>Set when the fake cuts the connection instead of ending it cleanly.</summary>
    public bool Aborted { get; set; }
}

/// <summary>The fake API server's state and the rules it enforces. Every operation runs under one lock.</summary>
sealed class FakeStore
{
    static readonly string[] ServerMetadata = ["uid", "resourceVersion", "generation", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "managedFields", "selfLink"];
    readonly Lock _gate = new();
    readonly Dictionary<(string Group, string Version, string Plural), KindState> _kinds = [];
    readonly Dictionary<string, (KindState Kind, string Key)> _uids = new(StringComparer.Ordinal);
    readonly LinkedList<HistoryEntry> _history = new();
    readonly List<Watcher> _watchers = [];
    readonly Channel<bool> _garbageCollection = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    long _resourceVersion;
    long _compactedVersion;

    public FakeStore(int compactionWindow) => CompactionWindow = compactionWindow;

    public int CompactionWindow { get; set; }

    public long ResourceVersion
    {
        get
        {
            lock (_gate)
            {
                return _resourceVersion;
            }
        }
    }

    public int WatchCount
    {
        get
        {
            lock (_gate)
            {
                return _watchers.Count;
            }
        }
    }

    public ChannelReader<bool> GarbageCollectionSignals => _garbageCollection.Reader;

    // ---- kinds ---------------------------------------------------------------------------------

    public KindState RegisterKind(ApiResource resource, bool hasStatus)
    {
        lock (_gate)
        {
            var key = (resource.Group, resource.Version, resource.Plural);
            if (_kinds.TryGetValue(key, out var existing))
            {
                existing.HasStatus = hasStatus;
                return existing;
            }

            var kind = new KindState(resource, hasStatus);
            _kinds[key] = kind;
            return kind;
        }
    }

    public KindState? FindKind(string group, string version, string plural)
    {
        lock (_gate)
        {
            return _kinds.GetValueOrDefault((group, version, plural));
        }
    }

    public KindState Kind(ApiResource resource) =>
        FindKind(resource.Group, resource.Version, resource.Plural)
        ?? throw new InvalidOperationException($"The fake API server does not know {resource.GroupResource}/{resource.Version}: register the kind first.");

    public List<KindState> Kinds()
    {
        lock (_gate)
        {
            return [.. _kinds.Values];
        }
    }

    // ---- reads ---------------------------------------------------------------------------------

    public JsonObject? Get(KindState kind, string? ns, string name)
    {
        lock (_gate)
        {
            return kind.Objects.TryGetValue(Key(ns, name), out var stored) ? Clone(stored.Object) : null;
        }
    }

    public Dictionary<string, HashSet<string>> ManagedFields(KindState kind, string? ns, string name)
    {
        lock (_gate)
        {
            var stored = kind.Objects.GetValueOrDefault(Key(ns, name)) ?? throw NotFound(kind, name);
            return stored.Managed.ToDictionary(
                e => e.Key.Subresource.Length == 0 ? $"{e.Key.Manager} ({e.Key.Operation})" : $"{e.Key.Manager} ({e.Key.Operation}, {e.Key.Subresource})",
                e => e.Value.Select(JsonTree.Display).ToHashSet());
        }
    }

    public (List<JsonObject> Items, string Version, string? Continue, long? Remaining) List(
        KindState kind, string? ns, LabelSelector labels, FieldSelector fields, int? limit, string? continueToken)
    {
        lock (_gate)
        {
            var listVersion = _resourceVersion;
            string? after = null;
            if (!string.IsNullOrEmpty(continueToken))
            {
                (listVersion, after) = DecodeContinue(continueToken);
                if (listVersion < _compactedVersion)
                {
                    throw new ApiError(410, "Expired", "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.");
                }
            }

            var matching = kind.Objects
                .Where(e => after is null || string.CompareOrdinal(e.Key, after) > 0)
                .Where(e => ns is null || Namespace(e.Value.Object) == ns)
                .Where(e => labels.Matches(e.Value.Object) && fields.Matches(e.Value.Object))
                .ToList();
            var page = limit is > 0 ? matching.Take(limit.Value).ToList() : matching;
            string? next = null;
            long? remaining = null;
            if (page.Count < matching.Count)
            {
                next = EncodeContinue(listVersion, page[^1].Key);
                remaining = matching.Count - page.Count;
            }

            return ([.. page.Select(e => Clone(e.Value.Object))], listVersion.ToString(CultureInfo.InvariantCulture), next, remaining);
        }
    }

    // ---- writes --------------------------------------------------------------------------------

    public JsonObject Create(KindState kind, string? ns, JsonObject body, string manager, bool keepStatus = false)
    {
        lock (_gate)
        {
            CheckIdentity(kind, ns, null, body);
            return Clone(CreateCore(kind, ns, Clone(body), manager, "Update", keepStatus).Object);
        }
    }

    public JsonObject Replace(KindState kind, string? ns, string name, JsonObject body, string? subresource, string manager)
    {
        lock (_gate)
        {
            CheckIdentity(kind, ns, name, body);
            var stored = Find(kind, ns, name);
            CheckResourceVersion(kind, name, stored, JsonTree.String(body["metadata"]?["resourceVersion"]));
            return Clone(CommitUpdate(kind, stored, Clone(body), subresource, manager, "Update", trackFields: true));
        }
    }

    public JsonObject MergePatch(KindState kind, string? ns, string name, JsonObject patch, string? subresource, string manager)
    {
        lock (_gate)
        {
            var stored = Find(kind, ns, name);
            CheckResourceVersion(kind, name, stored, JsonTree.String(patch["metadata"]?["resourceVersion"]));
            var proposed = JsonTree.MergePatch(stored.Object, patch) as JsonObject ?? throw new ApiError(400, "BadRequest", "the patch does not produce an object");
            return Clone(CommitUpdate(kind, stored, proposed, subresource, manager, "Update", trackFields: true));
        }
    }

    /// <summary>
    /// Server-side apply, approximated: the applied fields are merged in (objects key by key, lists and scalars whole);
    /// fields this manager applied before and no longer sends are removed unless another manager owns them; a field
    /// another manager owns with a different value is a conflict unless forced.
    /// </summary>
    public (JsonObject Object, bool Created) Apply(KindState kind, string? ns, string name, JsonObject body, string? subresource, string manager, bool force)
    {
        lock (_gate)
        {
            CheckIdentity(kind, ns, name, body);
            if (body["apiVersion"] is null || body["kind"] is null)
            {
                throw new ApiError(400, "BadRequest", "apply requires apiVersion and kind in the body");
            }

            if (body["metadata"]?["managedFields"] is not null)
            {
                throw new ApiError(400, "BadRequest", "metadata.managedFields must be nil");
            }

            var sub = subresource ?? string.Empty;
            var applied = Clone(body);
            var requestedVersion = JsonTree.String(applied["metadata"]?["resourceVersion"]);
            if (sub == "status")
            {
                applied = new JsonObject
                {
                    ["apiVersion"] = applied["apiVersion"]?.DeepClone(),
                    ["kind"] = applied["kind"]?.DeepClone(),
                    ["metadata"] = new JsonObject { ["name"] = name },
                    ["status"] = applied["status"]?.DeepClone() ?? new JsonObject(),
                };
            }
            else if (kind.HasStatus)
            {
                applied.Remove("status");
            }

            foreach (var field in ServerMetadata)
            {
                JsonTree.Metadata(applied).Remove(field);
            }

            var appliedFields = OwnedLeaves(kind, applied, sub);
            var key = (manager, "Apply", sub);
            if (!kind.Objects.TryGetValue(Key(ns, name), out var stored))
            {
                if (sub == "status")
                {
                    throw NotFound(kind, name);
                }

                var created = CreateCore(kind, ns, applied, manager, operation: null, keepStatus: false);
                created.Managed[key] = appliedFields;
                return (Clone(created.Object), true);
            }

            CheckResourceVersion(kind, name, stored, requestedVersion);
            var live = stored.Object;
            var conflicts = new List<(string Field, (string Manager, string Operation, string Subresource) Owner)>();
            foreach (var field in appliedFields)
            {
                foreach (var (owner, fields) in stored.Managed)
                {
                    if (owner != key && owner.Subresource == sub && fields.Contains(field) && !SameValue(live, applied, field))
                    {
                        conflicts.Add((field, owner));
                    }
                }
            }

            if (conflicts.Count > 0 && !force)
            {
                var causes = new JsonArray();
                foreach (var (field, owner) in conflicts)
                {
                    causes.Add(new JsonObject { ["reason"] = "FieldManagerConflict", ["message"] = $"conflict with \"{owner.Manager}\"", ["field"] = JsonTree.Display(field) });
                }

                var message = $"Apply failed with {conflicts.Count} conflict{(conflicts.Count == 1 ? string.Empty : "s")}: "
                    + string.Join("; ", conflicts.Select(c => $"conflict with \"{c.Owner.Manager}\": {JsonTree.Display(c.Field)}"));
                throw new ApiError(409, "Conflict", message, Details(kind, name, causes));
            }

            var previous = stored.Managed.GetValueOrDefault(key) ?? [];
            var proposed = Clone(live);
            foreach (var field in previous.Except(appliedFields))
            {
                if (!stored.Managed.Any(e => e.Key != key && e.Value.Contains(field)))
                {
                    JsonTree.Remove(proposed, field);
                }
            }

            JsonTree.DeepMerge(proposed, applied);
            foreach (var (field, owner) in conflicts)
            {
                stored.Managed[owner].Remove(field);
            }

            stored.Managed[key] = appliedFields;
            DropEmptyManagers(stored);
            return (Clone(CommitUpdate(kind, stored, proposed, subresource, manager, "Apply", trackFields: false)), false);
        }
    }

    /// <summary>Deletes, or marks for deletion while finalizers remain. Returns the object still present, or null when it is gone.</summary>
    public JsonObject? Delete(KindState kind, string? ns, string name, string? propagationPolicy, string? preconditionVersion, string? preconditionUid)
    {
        lock (_gate)
        {
            var stored = Find(kind, ns, name);
            var metadata = JsonTree.Metadata(stored.Object);
            if (preconditionUid is not null && preconditionUid != JsonTree.String(metadata["uid"]))
            {
                throw new ApiError(409, "Conflict", $"Precondition failed: UID in precondition: {preconditionUid}, UID in object meta: {JsonTree.String(metadata["uid"])}", Details(kind, name));
            }

            if (preconditionVersion is not null && preconditionVersion != JsonTree.String(metadata["resourceVersion"]))
            {
                throw new ApiError(409, "Conflict", $"Precondition failed: ResourceVersion in precondition: {preconditionVersion}, ResourceVersion in object meta: {JsonTree.String(metadata["_resourceVersion"])}", Details(kind, name));
            }

            var finalizers = Finalizers(stored.Object);
            var extra = propagationPolicy switch
            {
                null or "" or "Background" => null,
                "Foreground" => "foregroundDeletion",
                "Orphan" => "orphan",
                _ => throw new ApiError(400, "BadRequest", $"unsupported propagationPolicy \"{propagationPolicy}\""),
            };

            if (metadata["deletionTimestamp"] is not null)
            {
                return Clone(stored.Object);
            }

            if (extra is not null && !finalizers.Contains(extra))
            {
                finalizers.Add(extra);
            }

            if (finalizers.Count == 0)
            {
                Commit(kind, stored, stored.Object, Clone(stored.Object), "DELETED");
                return null;
            }

            // Kept until every finalizer is removed; the generation moves as the object now asks to be torn down.
            var next = Clone(stored.Object);
            var nextMetadata = JsonTree.Metadata(next);
            nextMetadata["finalizers"] = new JsonArray([.. finalizers.Select(f => (JsonNode?)JsonValue.Create(f))]);
            nextMetadata["deletionTimestamp"] = Now();
            nextMetadata["deletionGracePeriodSeconds"] = 0;
            nextMetadata["generation"] = Generation(stored.Object) + 1;
            var before = stored.Object;
            stored.Object = next;
            Commit(kind, stored, before, next, "MODIFIED");
            return Clone(next);
        }
    }

    /// <summary>Writes an object the way another actor (a built-in controller, the test) would: no status separation, no preconditions.</summary>
    public JsonObject Write(KindState kind, string? ns, string name, Func<JsonObject, JsonObject> change)
    {
        lock (_gate)
        {
            var stored = Find(kind, ns, name);
            var live = stored.Object;
            var next = change(Clone(live));
            var metadata = JsonTree.Metadata(next);
            var liveMetadata = JsonTree.Metadata(live);
            foreach (var field in new[] { "uid", "creationTimestamp", "name", "namespace", "resourceVersion" })
            {
                metadata[field] = liveMetadata[field]?.DeepClone();
            }

            if (JsonNode.DeepEquals(next, live))
            {
                return Clone(live);
            }

            if (SpecChanged(live, next))
            {
                metadata["generation"] = Generation(live) + 1;
            }

            stored.Object = next;
            Commit(kind, stored, live, next, "MODIFIED");
            FinishDeletionIfDone(kind, stored);
            return Clone(next);
        }
    }

    // ---- watch ---------------------------------------------------------------------------------

    /// <summary>Registers a watch and queues what it must see first; an expired version yields a 410 ERROR event instead.</summary>
    public (Watcher? Watcher, string? ErrorLine) StartWatch(KindState kind, string? ns, LabelSelector selector, string? version, bool bookmarks)
    {
        lock (_gate)
        {
            var watcher = new Watcher(kind, ns, selector, bookmarks);
            long start;
            if (string.IsNullOrEmpty(version) || version == "0")
            {
                // No version: the current state as ADDED events, then changes.
                foreach (var stored in kind.Objects.Values)
                {
                    if ((ns is null || Namespace(stored.Object) == ns) && selector.Matches(stored.Object))
                    {
                        watcher.Lines.Writer.TryWrite(EventLine("ADDED", stored.Object));
                    }
                }

                start = _resourceVersion;
            }
            else
            {
                if (!long.TryParse(version, NumberStyles.None, CultureInfo.InvariantCulture, out start))
                {
                    throw new ApiError(400, "BadRequest", $"invalid resourceVersion \"{version}\"");
                }

                if (start < _compactedVersion)
                {
                    var status = StatusObject(410, "Expired", $"too old resource version: {start} ({_compactedVersion})", null);
                    return (null, new JsonObject { ["type"] = "ERROR", ["object"] = status }.ToJsonString());
                }

                foreach (var entry in _history)
                {
                    if (entry.Version > start)
                    {
                        Deliver(watcher, entry);
                    }
                }
            }

            _watchers.Add(watcher);
            return (watcher, null);
        }
    }

    public void StopWatch(Watcher watcher)
    {
        lock (_gate)
        {
            _watchers.Remove(watcher);
        }
    }

    public int DropWatches(bool abort)
    {
        lock (_gate)
        {
            foreach (var watcher in _watchers)
            {
                watcher.Aborted = abort;
                watcher.Lines.Writer.TryComplete();
            }

            var count = _watchers.Count;
            _watchers.Clear();
            return count;
        }
    }

    public void SendBookmarks()
    {
        lock (_gate)
        {
            var version = _resourceVersion.ToString(CultureInfo.InvariantCulture);
            foreach (var watcher in _watchers.Where(w => w.Bookmarks))
            {
                var bookmark = new JsonObject
                {
                    ["kind"] = watcher.Kind.Resource.Kind,
                    ["apiVersion"] = watcher.Kind.Resource.ApiVersion,
                    ["metadata"] = new JsonObject { ["resourceVersion"] = version },
                };
                watcher.Lines.Writer.TryWrite(new JsonObject { ["type"] = "BOOKMARK", ["object"] = bookmark }.ToJsonString());
            }
        }
    }

    /// <summary>Forgets all history: watches and continue tokens from before now answer 410.</summary>
    public void Compact()
    {
        lock (_gate)
        {
            _history.Clear();
            _compactedVersion = _resourceVersion;
        }
    }

    // ---- garbage collection ----------------------------------------------------------------------

    /// <summary>One pass of the garbage collector; returns whether it changed anything (run again until it does not).</summary>
    public bool CollectGarbage()
    {
        lock (_gate)
        {
            var changed = false;
            var all = _kinds.Values.SelectMany(k => k.Objects.Values.Select(o => (Kind: k, Stored: o))).ToList();
            var dependentsByOwner = new Dictionary<string, List<(KindState Kind, StoredObject Stored)>>(StringComparer.Ordinal);
            foreach (var item in all)
            {
                foreach (var uid in OwnerUids(item.Stored.Object))
                {
                    if (!dependentsByOwner.TryGetValue(uid, out var list))
                    {
                        dependentsByOwner[uid] = list = [];
                    }

                    list.Add(item);
                }
            }

            foreach (var (kind, owner) in all)
            {
                if (!IsLive(kind, owner) || JsonTree.Metadata(owner.Object)["deletionTimestamp"] is null)
                {
                    continue;
                }

                var uid = JsonTree.String(JsonTree.Metadata(owner.Object)["uid"])!;
                var finalizers = Finalizers(owner.Object);
                var dependents = dependentsByOwner.GetValueOrDefault(uid, []).Where(d => IsLive(d.Kind, d.Stored)).ToList();
                if (finalizers.Contains("orphan"))
                {
                    foreach (var (dependentKind, dependent) in dependents)
                    {
                        RemoveOwnerReferences(dependentKind, dependent, [uid]);
                    }

                    RemoveFinalizer(kind, owner, "orphan");
                    changed = true;
                }
                else if (finalizers.Contains("foregroundDeletion"))
                {
                    foreach (var (dependentKind, dependent) in dependents.Where(d => JsonTree.Metadata(d.Stored.Object)["deletionTimestamp"] is null))
                    {
                        DeleteDependent(dependentKind, dependent);
                        changed = true;
                    }

                    if (!dependents.Any(d => IsLive(d.Kind, d.Stored) && BlocksOwnerDeletion(d.Stored.Object, uid)))
                    {
                        RemoveFinalizer(kind, owner, "foregroundDeletion");
                        changed = true;
                    }
                }
            }

            foreach (var (kind, dependent) in all)
            {
                if (!IsLive(kind, dependent) || JsonTree.Metadata(dependent.Object)["deletionTimestamp"] is not null)
                {
                    continue;
                }

                var owners = OwnerUids(dependent.Object).ToList();
                if (owners.Count == 0)
                {
                    continue;
                }

                var absent = owners.Where(uid => !_uids.ContainsKey(uid)).ToList();
                if (absent.Count == owners.Count)
                {
                    DeleteDependent(kind, dependent);
                    changed = true;
                }
                else if (absent.Count > 0)
                {
                    RemoveOwnerReferences(kind, dependent, absent);
                    changed = true;
                }
            }

            return changed;
        }
    }

    // ---- internals -----------------------------------------------------------------------------

    StoredObject CreateCore(KindState kind, string? ns, JsonObject obj, string manager, string? operation, bool keepStatus)
    {
        var metadata = JsonTree.Metadata(obj);
        var name = JsonTree.String(metadata["name"]);
        if (string.IsNullOrEmpty(name))
        {
            var prefix = JsonTree.String(metadata["generateName"]);
            if (string.IsNullOrEmpty(prefix))
            {
                throw new ApiError(422, "Invalid", $"{kind.Resource.Kind} \"\" is invalid: metadata.name: Required value: name or generateName is required", Details(kind, string.Empty));
            }

            do
            {
                name = prefix + Guid.NewGuid().ToString("N")[..5];
            }
            while (kind.Objects.ContainsKey(Key(ns, name)));
            metadata["name"] = name;
        }

        if (kind.Objects.ContainsKey(Key(ns, name)))
        {
            throw new ApiError(409, "AlreadyExists", $"{kind.Resource.GroupResource} \"{name}\" already exists", Details(kind, name));
        }

        obj["apiVersion"] = kind.Resource.ApiVersion;
        obj["kind"] = kind.Resource.Kind;
        foreach (var field in ServerMetadata)
        {
            metadata.Remove(field);
        }

        if (kind.Resource.Namespaced)
        {
            metadata["namespace"] = ns;
        }
        else
        {
            metadata.Remove("namespace");
        }

        metadata["uid"] = Guid.NewGuid().ToString();
        metadata["creationTimestamp"] = Now();
        metadata["generation"] = 1;
        if (kind.HasStatus && !keepStatus)
        {
            obj.Remove("status");
        }

        var stored = new StoredObject(obj);
        if (operation is not null)
        {
            stored.Managed[(manager, operation, string.Empty)] = OwnedLeaves(kind, obj, string.Empty);
        }

        Commit(kind, stored, null, obj, "ADDED");
        return stored;
    }

    JsonObject CommitUpdate(KindState kind, StoredObject stored, JsonObject proposed, string? subresource, string manager, string operation, bool trackFields)
    {
        var live = stored.Object;
        var sub = subresource ?? string.Empty;
        JsonObject next;
        if (sub == "status")
        {
            // Writes to /status change only status.
            next = Clone(live);
            if (proposed["status"] is { } status)
            {
                next["status"] = status.DeepClone();
            }
            else
            {
                next.Remove("status");
            }
        }
        else
        {
            next = proposed;
            if (kind.HasStatus)
            {
                // Writes to the object ignore status.
                if (live["status"] is { } status)
                {
                    next["status"] = status.DeepClone();
                }
                else
                {
                    next.Remove("status");
                }
            }

            var metadata = JsonTree.Metadata(next);
            var liveMetadata = JsonTree.Metadata(live);
            foreach (var field in new[] { "uid", "creationTimestamp", "generation", "deletionTimestamp", "deletionGracePeriodSeconds", "name", "namespace", "resourceVersion" })
            {
                if (liveMetadata[field] is { } value)
                {
                    metadata[field] = value.DeepClone();
                }
                else
                {
                    metadata.Remove(field);
                }
            }

            metadata.Remove("managedFields");
            if (liveMetadata["deletionTimestamp"] is not null)
            {
                var added = Finalizers(next).Except(Finalizers(live)).ToList();
                if (added.Count > 0)
                {
                    throw new ApiError(422, "Invalid", $"{kind.Resource.Kind} \"{Name(live)}\" is invalid: metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers [{string.Join(" ", added)}]", Details(kind, Name(live)));
                }
            }
        }

        next["apiVersion"] = kind.Resource.ApiVersion;
        next["kind"] = kind.Resource.Kind;
        if (JsonNode.DeepEquals(next, live))
        {
            return live; // A no-op write changes nothing, not even the resourceVersion.
        }

        if (sub != "status" && SpecChanged(live, next))
        {
            JsonTree.Metadata(next)["generation"] = Generation(live) + 1;
        }

        if (trackFields)
        {
            TrackUpdate(kind, stored, live, next, manager, operation, sub);
        }

        stored.Object = next;
        Commit(kind, stored, live, next, "MODIFIED");
        FinishDeletionIfDone(kind, stored);
        return next;
    }

    /// <summary>An update takes the fields it changed from whoever owned them; removed fields lose their owners.</summary>
    static void TrackUpdate(KindState kind, StoredObject stored, JsonObject before, JsonObject after, string manager, string operation, string sub)
    {
        var beforeFields = OwnedLeaves(kind, before, sub);
        var afterFields = OwnedLeaves(kind, after, sub);
        var changed = afterFields.Where(f => !SameValue(before, after, f)).ToList();
        var key = (manager, operation, sub);
        if (!stored.Managed.TryGetValue(key, out var mine))
        {
            stored.Managed[key] = mine = [];
        }

        mine.UnionWith(changed);
        foreach (var (owner, fields) in stored.Managed)
        {
            if (owner != key)
            {
                fields.ExceptWith(changed);
            }

            fields.ExceptWith(beforeFields.Except(afterFields));
        }

        DropEmptyManagers(stored);
    }

    static void DropEmptyManagers(StoredObject stored)
    {
        foreach (var owner in stored.Managed.Where(e => e.Value.Count == 0).Select(e => e.Key).ToList())
        {
            stored.Managed.Remove(owner);
        }
    }

    /// <summary>The fields a manager can own: all leaves but identity and server-set metadata; status only through /status when the kind has that subresource.</summary>
    static HashSet<string> OwnedLeaves(KindState kind, JsonObject obj, string sub)
    {
        var leaves = JsonTree.Leaves(obj);
        leaves.RemoveWhere(path =>
        {
            var first = path.Split(JsonTree.Separator, 2)[0];
            if (sub == "status")
            {
                return first != "status";
            }

            if (first is "apiVersion" or "kind" || (first == "status" && kind.HasStatus))
            {
                return true;
            }

            return first == "metadata" && (path == "metadata" || ServerMetadata.Concat(["name", "namespace", "generateName"]).Any(f => path == "metadata\n" + f || path.StartsWith("metadata\n" + f + "\n", StringComparison.Ordinal)));
        });
        return leaves;
    }

    void FinishDeletionIfDone(KindState kind, StoredObject stored)
    {
        if (JsonTree.Metadata(stored.Object)["deletionTimestamp"] is not null && Finalizers(stored.Object).Count == 0 && IsLive(kind, stored))
        {
            Commit(kind, stored, stored.Object, Clone(stored.Object), "DELETED");
        }
    }

    void Commit(KindState kind, StoredObject stored, JsonObject? before, JsonObject after, string type)
    {
        _resourceVersion++;
        var version = _resourceVersion.ToString(CultureInfo.InvariantCulture);
        JsonTree.Metadata(after)["resourceVersion"] = version;
        var key = Key(Namespace(after), Name(after));
        var uid = JsonTree.String(JsonTree.Metadata(after)["uid"])!;
        if (type == "DELETED")
        {
            kind.Objects.Remove(key);
            _uids.Remove(uid);
        }
        else
        {
            stored.Object = after;
            kind.Objects[key] = stored;
            _uids[uid] = (kind, key);
        }

        var entry = new HistoryEntry(_resourceVersion, kind, type, before is null ? null : Clone(before), Clone(after), EventLine(type, after));
        _history.AddLast(entry);
        while (_history.Count > CompactionWindow)
        {
            _compactedVersion = _history.First!.Value.Version;
            _history.RemoveFirst();
        }

        foreach (var watcher in _watchers)
        {
            Deliver(watcher, entry);
        }

        if (type == "DELETED" || OwnerUids(after).Any() || JsonTree.Metadata(after)["deletionTimestamp"] is not null)
        {
            _garbageCollection.Writer.TryWrite(true);
        }

        if (kind.Resource is { Group: "apiextensions.k8s.io", Plural: "customresourcedefinitions" } && type != "DELETED")
        {
            RegisterFromDefinition(after);
        }
    }

    /// <summary>Sends an event to a watch, as the watch's label selector sees it: leaving the selection is a DELETED, entering it an ADDED.</summary>
    static void Deliver(Watcher watcher, HistoryEntry entry)
    {
        if (watcher.Kind != entry.Kind || (watcher.Namespace is not null && Namespace(entry.After) != watcher.Namespace))
        {
            return;
        }

        var now = watcher.Selector.Matches(entry.After);
        var before = entry.Before is not null && watcher.Selector.Matches(entry.Before);
        var type = entry.Type switch
        {
            "ADDED" => now ? "ADDED" : null,
            "DELETED" => now ? "DELETED" : null,
            _ => (before, now) switch
            {
                (true, true) => "MODIFIED",
                (false, true) => "ADDED",
                (true, false) => "DELETED",
                _ => null,
            },
        };
        if (type is not null)
        {
            watcher.Lines.Writer.TryWrite(type == entry.Type ? entry.Line : EventLine(type, entry.After));
        }
    }

    void RegisterFromDefinition(JsonObject definition)
    {
        var spec = definition["spec"] as JsonObject;
        var group = JsonTree.String(spec?["group"]);
        var plural = JsonTree.String(spec?["names"]?["plural"]);
        var kindName = JsonTree.String(spec?["names"]?["kind"]);
        if (group is null || plural is null || kindName is null || spec?["versions"] is not JsonArray versions)
        {
            return;
        }

        var namespaced = JsonTree.String(spec["scope"]) != "Cluster";
        foreach (var version in versions.OfType<JsonObject>())
        {
            var name = JsonTree.String(version["name"]);
            if (name is null || version["served"]?.GetValue<bool>() == false)
            {
                continue;
            }

            var hasStatus = version["subresources"]?["status"] is not null;
            var key = (group, name, plural);
            if (_kinds.TryGetValue(key, out var existing))
            {
                existing.HasStatus = hasStatus;
            }
            else
            {
                _kinds[key] = new KindState(new ApiResource(group, name, kindName, plural, namespaced), hasStatus);
            }
        }
    }

    void DeleteDependent(KindState kind, StoredObject dependent)
    {
        var finalizers = Finalizers(dependent.Object);
        if (finalizers.Count == 0)
        {
            Commit(kind, dependent, dependent.Object, Clone(dependent.Object), "DELETED");
            return;
        }

        var next = Clone(dependent.Object);
        var metadata = JsonTree.Metadata(next);
        metadata["deletionTimestamp"] = Now();
        metadata["deletionGracePeriodSeconds"] = 0;
        metadata["generation"] = Generation(dependent.Object) + 1;
        var before = dependent.Object;
        dependent.Object = next;
        Commit(kind, dependent, before, next, "MODIFIED");
    }

    void RemoveOwnerReferences(KindState kind, StoredObject dependent, IReadOnlyCollection<string> ownerUids)
    {
        var next = Clone(dependent.Object);
        var metadata = JsonTree.Metadata(next);
        var kept = new JsonArray();
        foreach (var reference in (metadata["ownerReferences"] as JsonArray ?? []).OfType<JsonObject>())
        {
            if (!ownerUids.Contains(JsonTree.String(reference["uid"]) ?? string.Empty))
            {
                kept.Add(reference.DeepClone());
            }
        }

        if (kept.Count == 0)
        {
            metadata.Remove("ownerReferences");
        }
        else
        {
            metadata["ownerReferences"] = kept;
        }

        var before = dependent.Object;
        dependent.Object = next;
        Commit(kind, dependent, before, next, "MODIFIED");
    }

    void RemoveFinalizer(KindState kind, StoredObject owner, string finalizer)
    {
        var next = Clone(owner.Object);
        var metadata = JsonTree.Metadata(next);
        var remaining = Finalizers(next).Where(f => f != finalizer).ToList();
        if (remaining.Count == 0)
        {
            metadata.Remove("finalizers");
        }
        else
        {
            metadata["finalizers"] = new JsonArray([.. remaining.Select(f => (JsonNode?)JsonValue.Create(f))]);
        }

        var before = owner.Object;
        owner.Object = next;
        Commit(kind, owner, before, next, "MODIFIED");
        FinishDeletionIfDone(kind, owner);
    }

    static bool BlocksOwnerDeletion(JsonObject dependent, string ownerUid) =>
        (JsonTree.Metadata(dependent)["ownerReferences"] as JsonArray ?? [])
        .OfType<JsonObject>()
        .Any(r => JsonTree.String(r["uid"]) == ownerUid && r["blockOwnerDeletion"]?.GetValue<bool>() == true);

    bool IsLive(KindState kind, StoredObject stored) =>
        kind.Objects.TryGetValue(Key(Namespace(stored.Object), Name(stored.Object)), out var current) && ReferenceEquals(current, stored);

    static IEnumerable<string> OwnerUids(JsonObject obj) =>
        (JsonTree.Metadata(obj)["ownerReferences"] as JsonArray ?? [])
        .OfType<JsonObject>()
        .Select(r => JsonTree.String(r["uid"]))
        .OfType<string>();

    StoredObject Find(KindState kind, string? ns, string name) =>
        kind.Objects.GetValueOrDefault(Key(ns, name)) ?? throw NotFound(kind, name);

    static void CheckIdentity(KindState kind, string? ns, string? name, JsonObject body)
    {
        var metadata = body["metadata"] as JsonObject;
        var bodyNamespace = JsonTree.String(metadata?["namespace"]);
        if (kind.Resource.Namespaced && bodyNamespace is not null && bodyNamespace != ns)
        {
            throw new ApiError(400, "BadRequest", "the namespace of the provided object does not match the namespace sent on the request");
        }

        var bodyName = JsonTree.String(metadata?["name"]);
        if (name is not null && bodyName is not null && bodyName != name)
        {
            throw new ApiError(400, "BadRequest", "the name of the object does not match the name on the URL");
        }

        var apiVersion = JsonTree.String(body["apiVersion"]);
        var kindName = JsonTree.String(body["kind"]);
        if ((apiVersion is not null && apiVersion != kind.Resource.ApiVersion) || (kindName is not null && kindName != kind.Resource.Kind))
        {
            throw new ApiError(400, "BadRequest", $"the body is {apiVersion}/{kindName}, the URL addresses {kind.Resource.ApiVersion}/{kind.Resource.Kind}");
        }
    }

    static void CheckResourceVersion(KindState kind, string name, StoredObject stored, string? requested)
    {
        if (!string.IsNullOrEmpty(requested) && requested != JsonTree.String(JsonTree.Metadata(stored.Object)["resourceVersion"]))
        {
            throw new ApiError(
                409,
                "Conflict",
                $"Operation cannot be fulfilled on {kind.Resource.GroupResource} \"{name}\": the object has been modified; please apply your changes to the latest version and try again",
                Details(kind, name));
        }
    }

    static bool SpecChanged(JsonObject before, JsonObject after)
    {
        var keys = before.Select(p => p.Key).Union(after.Select(p => p.Key)).Where(k => k is not ("metadata" or "status" or "apiVersion" or "kind"));
        return keys.Any(k => !JsonNode.DeepEquals(before[k], after[k]));
    }

    static bool SameValue(JsonObject a, JsonObject b, string path)
    {
        var inA = JsonTree.TryGet(a, path, out var valueA);
        var inB = JsonTree.TryGet(b, path, out var valueB);
        return inA == inB && JsonNode.DeepEquals(valueA, valueB);
    }

    static List<string> Finalizers(JsonObject obj) =>
        (JsonTree.Metadata(obj)["finalizers"] as JsonArray ?? []).Select(f => f?.ToString()).OfType<string>().ToList();

    static long Generation(JsonObject obj) =>
        JsonTree.Metadata(obj)["generation"] is { } generation ? long.Parse(generation.ToJsonString(), CultureInfo.InvariantCulture) : 0;

    static string Name(JsonObject obj) => JsonTree.String(JsonTree.Metadata(obj)["name"]) ?? string.Empty;

    static string? Namespace(JsonObject obj) => JsonTree.String(JsonTree.Metadata(obj)["namespace"]);

    static string Key(string? ns, string name) => $"{ns}/{name}";

    static string Now() => DateTime.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    internal static JsonObject Clone(JsonObject obj) => (JsonObject)obj.DeepClone();

    static string EventLine(string type, JsonObject obj) => new JsonObject { ["type"] = type, ["object"] = obj.DeepClone() }.ToJsonString();

    static ApiError NotFound(KindState kind, string name) =>
        new(404, "NotFound", $"{kind.Resource.GroupResource} \"{name}\" not found", Details(kind, name));

    internal static JsonObject Details(KindState kind, string name, JsonArray? causes = null)
    {
        var details = new JsonObject { ["name"] = name, ["group"] = kind.Resource.Group, ["kind"] = kind.Resource.Plural };
        if (causes is not null)
        {
            details["causes"] = causes;
        }

        return details;
    }

    internal static JsonObject StatusObject(int code, string reason, string message, JsonObject? details) => new()
    {
        ["kind"] = "Status",
        ["apiVersion"] = "v1",
        ["metadata"] = new JsonObject(),
        ["status"] = code < 400 ? "Success" : "Failure",
        ["message"] = message,
        ["reason"] = reason,
        ["details"] = details,
        ["code"] = code,
    };

    static string EncodeContinue(long version, string lastKey) =>
        Convert.ToBase64String(Encoding.UTF8.GetBytes($"{version.ToString(CultureInfo.InvariantCulture)}|{lastKey}"));

    static (long Version, string LastKey) DecodeContinue(string token)
    {
        try
        {
            var text = Encoding.UTF8.GetString(Convert.FromBase64String(token));
            var bar = text.IndexOf('|', StringComparison.Ordinal);
            return (long.Parse(text[..bar], CultureInfo.InvariantCulture), text[(bar + 1)..]);
        }
        catch (Exception e) when (e is FormatException or ArgumentOutOfRangeException)
        {
            throw new ApiError(400, "BadRequest", "invalid continue token");
        }
    }
}
