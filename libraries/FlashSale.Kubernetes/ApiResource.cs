namespace FlashSale.Kubernetes;

/// <summary>Where a kind lives in the API: group, version, kind, plural resource name and scope.</summary>
public sealed record ApiResource(string Group, string Version, string Kind, string Plural, bool Namespaced)
{
    public static ApiResource NamespacedKind(string group, string version, string kind, string plural) => new(group, version, kind, plural, true);

    public static ApiResource ClusterKind(string group, string version, string kind, string plural) => new(group, version, kind, plural, false);

    /// <summary>"v1" for the core group, "group/version" otherwise.</summary>
    public string ApiVersion => Group.Length == 0 ? Version : $"{Group}/{Version}";

    /// <summary>"deployments.apps", the form used in API messages and CRD names.</summary>
    public string GroupResource => Group.Length == 0 ? Plural : $"{Plural}.{Group}";

    /// <summary>The REST path of the collection, an object or one of its subresources.</summary>
    public string GetPath(string? @namespace, string? name = null, string? subresource = null)
    {
        var path = Group.Length == 0 ? $"/api/{Version}" : $"/apis/{Group}/{Version}";
        if (Namespaced && !string.IsNullOrEmpty(@namespace))
        {
            path += "/namespaces/" + Uri.EscapeDataString(@namespace);
        }
        else if (Namespaced && name is not null)
        {
            throw new ArgumentException($"{Kind} is namespaced: a namespace is required to address '{name}'.", nameof(@namespace));
        }

        path += "/" + Plural;
        if (name is not null)
        {
            path += "/" + Uri.EscapeDataString(name);
            if (subresource is not null)
            {
                path += "/" + subresource;
            }
        }

        return path;
    }

    /// <summary>Splits "apps/v1" into ("apps", "v1") and "v1" into ("", "v1").</summary>
    public static (string Group, string Version) SplitApiVersion(string apiVersion)
    {
        var slash = apiVersion.IndexOf('/');
        return slash < 0 ? (string.Empty, apiVersion) : (apiVersion[..slash], apiVersion[(slash + 1)..]);
    }
}
