using System.Text.Json.Nodes;

namespace FlashSale.Kubernetes.Fake;

/// <summary>Operations on JSON trees: merge patch, field paths (segments joined by '\n'), deep merge.</summary>
static class JsonTree
{
    public const char Separator = '\n';

    /// <summary>RFC 7386 JSON merge patch.</summary>
    public static JsonNode? MergePatch(JsonNode? target, JsonNode? patch)
    {
        if (patch is not JsonObject patchObject)
        {
            return patch?.DeepClone();
        }

        var result = target is JsonObject targetObject ? (JsonObject)targetObject.DeepClone() : new JsonObject();
        foreach (var (key, value) in patchObject)
        {
            if (value is null)
            {
                result.Remove(key);
            }
            else
            {
                var existing = result[key];
                result[key] = MergePatch(existing?.DeepClone(), value);
            }
        }

        return result;
    }

    /// <summary>The paths of every leaf: scalars, nulls, arrays (atomic here) and empty objects.</summary>
    public static HashSet<string> Leaves(JsonObject root)
    {
        var leaves = new HashSet<string>(StringComparer.Ordinal);
        Collect(root, string.Empty, leaves);
        return leaves;
    }

    static void Collect(JsonNode? node, string prefix, HashSet<string> leaves)
    {
        if (node is JsonObject obj && (obj.Count > 0 || prefix.Length == 0))
        {
            foreach (var (key, value) in obj)
            {
                Collect(value, prefix.Length == 0 ? key : prefix + Separator + key, leaves);
            }
        }
        else
        {
            leaves.Add(prefix);
        }
    }

    public static bool TryGet(JsonObject root, string path, out JsonNode? value)
    {
        JsonNode? current = root;
        foreach (var segment in path.Split(Separator))
        {
            if (current is not JsonObject obj || !obj.TryGetPropertyValue(segment, out current))
            {
                value = null;
                return false;
            }
        }

        value = current;
        return true;
    }

    /// <summary>Removes the field at <paramref name="path"/> and then any object it leaves empty (below the top level).</summary>
    public static void Remove(JsonObject root, string path)
    {
        var segments = path.Split(Separator);
        var chain = new List<JsonObject> { root };
        JsonNode? current = root;
        for (var i = 0; i < segments.Length - 1; i++)
        {
            if (current is not JsonObject obj || obj[segments[i]] is not JsonObject next)
            {
                return;
            }

            chain.Add(next);
            current = next;
        }

        chain[^1].Remove(segments[^1]);
        for (var i = chain.Count - 1; i >= 2 && chain[i].Count == 0; i--)
        {
            chain[i - 1].Remove(segments[i - 1]);
        }
    }

    /// <summary>Copies <paramref name="source"/> into <paramref name="target"/>: objects are merged key by key, anything else replaced.</summary>
    public static void DeepMerge(JsonObject target, JsonObject source)
    {
        foreach (var (key, value) in source)
        {
            if (value is JsonObject sourceChild && sourceChild.Count > 0 && target[key] is JsonObject targetChild)
            {
                DeepMerge(targetChild, sourceChild);
            }
            else
            {
                target[key] = value?.DeepClone();
            }
        }
    }

    public static string Display(string path) => "." + path.Replace(Separator, '.');

    public static JsonObject Metadata(JsonObject obj)
    {
        if (obj["metadata"] is JsonObject metadata)
        {
            return metadata;
        }

        metadata = [];
        obj["metadata"] = metadata;
        return metadata;
    }

    public static string? String(JsonNode? node) => node is JsonValue value && value.TryGetValue<string>(out var s) ? s : null;
}
