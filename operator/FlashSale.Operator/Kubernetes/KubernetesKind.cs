using System.Net;
using System.Reflection;
using System.Text.Json;
using k8s;
using k8s.Autorest;
using k8s.Models;

namespace FlashSale.Operator.Kubernetes;

/// <summary>Where a kind lives in the API, read from the [KubernetesEntity] attribute of the official models (and of ours).</summary>
public static class KubernetesKind<T>
{
    static readonly KubernetesEntityAttribute Entity = typeof(T).GetCustomAttribute<KubernetesEntityAttribute>()
        ?? throw new InvalidOperationException($"{typeof(T).Name} has no [KubernetesEntity] attribute.");

    public static string Group => Entity.Group ?? "";

    public static string Version => Entity.ApiVersion;

    public static string Kind => Entity.Kind;

    public static string Plural => Entity.PluralName;

    /// <summary>"v1" for the core group, "group/version" otherwise.</summary>
    public static string ApiVersion => Group.Length == 0 ? Version : $"{Group}/{Version}";
}

public static class KubernetesObjects
{
    /// <summary>Sets apiVersion and kind, which the official models leave empty and an apply body needs.</summary>
    public static T Typed<T>(this T obj)
        where T : IKubernetesObject
    {
        obj.ApiVersion = KubernetesKind<T>.ApiVersion;
        obj.Kind = KubernetesKind<T>.Kind;
        return obj;
    }

    /// <summary>The object, or null when the server answers 404.</summary>
    public static async Task<T?> OrNullIfNotFound<T>(this Task<T> request)
        where T : class
    {
        try
        {
            return await request.ConfigureAwait(false);
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    /// <summary>The HTTP status of a failed request, when the server answered one.</summary>
    public static HttpStatusCode? StatusCode(this Exception e) => (e as HttpOperationException)?.Response?.StatusCode;

    /// <summary>"409 Conflict: message" from the Status the server answered with; the exception's message otherwise.</summary>
    public static string ApiMessage(this Exception e)
    {
        if (e is not HttpOperationException { Response: { } response })
        {
            return e.Message;
        }

        V1Status? status = null;
        try
        {
            status = string.IsNullOrEmpty(response.Content) ? null : KubernetesJson.Deserialize<V1Status>(response.Content);
        }
        catch (JsonException)
        {
            // Not a Status: the status code alone.
        }

        return $"{(int)response.StatusCode} {status?.Reason ?? response.StatusCode.ToString()}: {status?.Message ?? response.ReasonPhrase}";
    }

    /// <summary>An owner reference to this object as a controller owner (what server-side applied children carry).</summary>
    public static V1OwnerReference ToOwnerReference<T>(this T owner)
        where T : IKubernetesObject<V1ObjectMeta> => new()
        {
            ApiVersion = KubernetesKind<T>.ApiVersion,
            Kind = KubernetesKind<T>.Kind,
            Name = owner.Name(),
            Uid = owner.Uid() ?? throw new InvalidOperationException($"{KubernetesKind<T>.Kind} '{owner.Name()}' has no uid: read it from the server first."),
            Controller = true,
            BlockOwnerDeletion = true,
        };
}
