using System.Net;
using FlashSale.Kubernetes.Models;

namespace FlashSale.Kubernetes;

/// <summary>The API server answered with an error (an HTTP status, usually carrying a Status object).</summary>
public class KubernetesApiException : Exception
{
    public KubernetesApiException(HttpStatusCode statusCode, V1Status? status, string message, Exception? inner = null)
        : base(message, inner)
    {
        StatusCode = statusCode;
        Status = status;
    }

    public HttpStatusCode StatusCode { get; }

    /// <summary>The Status object the server sent, when it sent one.</summary>
    public V1Status? Status { get; }

    /// <summary>The machine-readable reason (Conflict, AlreadyExists, NotFound, Expired, Invalid, ...).</summary>
    public string? Reason => Status?.Reason;

    internal static KubernetesApiException From(HttpStatusCode code, V1Status? status, string method, string path, string? body)
    {
        var message = $"{method} {path} failed with {(int)code} {status?.Reason ?? code.ToString()}: {status?.Message ?? Truncate(body)}";
        return code switch
        {
            HttpStatusCode.NotFound => new KubernetesNotFoundException(status, message),
            HttpStatusCode.Conflict when status?.Reason == "AlreadyExists" => new KubernetesAlreadyExistsException(status, message),
            HttpStatusCode.Conflict => new KubernetesConflictException(status, message),
            HttpStatusCode.Gone => new KubernetesGoneException(status, message),
            _ => new KubernetesApiException(code, status, message),
        };
    }

    private static string Truncate(string? body) =>
        string.IsNullOrEmpty(body) ? "(no body)" : body.Length <= 500 ? body : body[..500] + "...";
}

/// <summary>404: the object (or its kind) does not exist.</summary>
public sealed class KubernetesNotFoundException(V1Status? status, string message)
    : KubernetesApiException(HttpStatusCode.NotFound, status, message);

/// <summary>409 Conflict: a stale resourceVersion on update, or a server-side apply field conflict. Read again and retry.</summary>
public sealed class KubernetesConflictException(V1Status? status, string message)
    : KubernetesApiException(HttpStatusCode.Conflict, status, message);

/// <summary>409 AlreadyExists: create of a name that is taken.</summary>
public sealed class KubernetesAlreadyExistsException(V1Status? status, string message)
    : KubernetesApiException(HttpStatusCode.Conflict, status, message);

/// <summary>410 Gone / Expired: the requested resourceVersion is older than the server's history. List again, then watch from the list's version.</summary>
public sealed class KubernetesGoneException(V1Status? status, string message)
    : KubernetesApiException(HttpStatusCode.Gone, status, message);

/// <summary>A kubeconfig or in-cluster configuration that cannot be used.</summary>
public sealed class KubeConfigException(string message, Exception? inner = null) : Exception(message, inner);
