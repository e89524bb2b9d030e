using System.Text.Json.Nodes;

namespace FlashSale.Kubernetes.Fake;

/// <summary>A request path taken apart: a discovery document, or a resource (group, version, namespace, plural, name, subresource).</summary>
sealed class Route
{
    public string? Group { get; private init; }

    public string? Version { get; private init; }

    public string? Namespace { get; private init; }

    public string? Plural { get; private init; }

    public string? Name { get; private init; }

    public string? Subresource { get; private init; }

    public KindState? Kind { get; private init; }

    /// <summary>Set for discovery and other non-resource paths.</summary>
    public Func<FakeStore, JsonNode>? Discovery { get; private init; }

    public static Route Parse(string path, FakeStore store)
    {
        var segments = path.Trim('/').Split('/', StringSplitOptions.RemoveEmptyEntries).Select(Uri.UnescapeDataString).ToArray();
        if (segments.Length == 0)
        {
            return new Route { Discovery = _ => new JsonObject { ["paths"] = new JsonArray("/api", "/apis", "/version") } };
        }

        switch (segments[0])
        {
            case "version":
                return new Route { Discovery = _ => new JsonObject { ["major"] = "1", ["minor"] = "33", ["gitVersion"] = "v1.33.0-flashsale-fake" } };
            case "healthz" or "readyz" or "livez":
                return new Route { Discovery = _ => JsonValue.Create("ok") };
            case "api" when segments.Length == 1:
                return new Route { Discovery = _ => new JsonObject { ["kind"] = "APIVersions", ["versions"] = new JsonArray("v1") } };
            case "apis" when segments.Length == 1:
                return new Route { Discovery = GroupList };
            case "apis" when segments.Length == 2:
                return new Route { Group = segments[1], Discovery = s => GroupDocument(s, segments[1]) ?? throw NotFound() };
            case "api":
                return ParseResource(store, string.Empty, segments[1], segments[2..]);
            case "apis":
                return ParseResource(store, segments[1], segments[2], segments[3..]);
            default:
                return new Route { Discovery = _ => throw NotFound() };
        }
    }

    static Route ParseResource(FakeStore store, string group, string version, string[] rest)
    {
        if (rest.Length == 0)
        {
            return new Route { Group = group, Version = version, Discovery = s => ResourceList(s, group, version) ?? throw NotFound() };
        }

        string? ns = null;
        if (rest[0] == "namespaces" && rest.Length >= 3 && store.FindKind(group, version, rest[2]) is { Resource.Namespaced: true })
        {
            ns = rest[1];
            rest = rest[2..];
        }

        if (rest.Length > 3)
        {
            return new Route { Group = group, Version = version, Discovery = _ => throw NotFound() };
        }

        var kind = store.FindKind(group, version, rest[0]);
        if (kind is not null && !kind.Resource.Namespaced && ns is not null)
        {
            kind = null;
        }

        return new Route
        {
            Group = group,
            Version = version,
            Namespace = ns,
            Plural = rest[0],
            Name = rest.Length > 1 ? rest[1] : null,
            Subresource = rest.Length > 2 ? rest[2] : null,
            Kind = kind,
        };
    }

    static JsonNode GroupList(FakeStore store)
    {
        var groups = new JsonArray();
        foreach (var group in store.Kinds().Where(k => k.Resource.Group.Length > 0).GroupBy(k => k.Resource.Group))
        {
            groups.Add(GroupDocument(store, group.Key));
        }

        return new JsonObject { ["kind"] = "APIGroupList", ["apiVersion"] = "v1", ["groups"] = groups };
    }

    static JsonObject? GroupDocument(FakeStore store, string group)
    {
        var versions = store.Kinds().Where(k => k.Resource.Group == group).Select(k => k.Resource.Version).Distinct().ToList();
        if (versions.Count == 0)
        {
            return null;
        }

        JsonObject Version(string v) => new() { ["groupVersion"] = $"{group}/{v}", ["version"] = v };
        return new JsonObject
        {
            ["kind"] = "APIGroup",
            ["apiVersion"] = "v1",
            ["name"] = group,
            ["versions"] = new JsonArray([.. versions.Select(v => (JsonNode)Version(v))]),
            ["preferredVersion"] = Version(versions[0]),
        };
    }

    static JsonObject? ResourceList(FakeStore store, string group, string version)
    {
        var kinds = store.Kinds().Where(k => k.Resource.Group == group && k.Resource.Version == version).ToList();
        if (kinds.Count == 0)
        {
            return null;
        }

        var resources = new JsonArray();
        foreach (var kind in kinds)
        {
            resources.Add(new JsonObject
            {
                ["name"] = kind.Resource.Plural,
                ["singularName"] = kind.Resource.Kind.ToLowerInvariant(),
                ["namespaced"] = kind.Resource.Namespaced,
                ["kind"] = kind.Resource.Kind,
                ["verbs"] = new JsonArray("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"),
            });
            if (kind.HasStatus)
            {
                resources.Add(new JsonObject
                {
                    ["name"] = kind.Resource.Plural + "/status",
                    ["singularName"] = string.Empty,
                    ["namespaced"] = kind.Resource.Namespaced,
                    ["kind"] = kind.Resource.Kind,
                    ["verbs"] = new JsonArray("get", "patch", "update"),
                });
            }
        }

        return new JsonObject
        {
            ["kind"] = "APIResourceList",
            ["apiVersion"] = "v1",
            ["groupVersion"] = group.Length == 0 ? version : $"{group}/{version}",
            ["resources"] = resources,
        };
    }

    static ApiError NotFound() => new(404, "NotFound", "the server could not find the requested resource");
}
