using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.Http.HttpResults;

namespace FlashSale.ServiceDefaults;

/// <summary>
/// A JSON answer sent with its <c>Content-Length</c>: serialized into one buffer first (source-generated metadata), then
/// written in one go. <c>TypedResults.Accepted</c>/<c>Json</c> stream the serializer's output instead: a 100-byte body goes
/// out chunked, through the serializer's asynchronous path, and every client parses chunks.
/// </summary>
public sealed class SizedJsonResult<T>(int statusCode, T value, JsonTypeInfo<T> typeInfo, string? location = null)
    : IResult, IStatusCodeHttpResult, IValueHttpResult, IValueHttpResult<T>, IContentTypeHttpResult
{
    public const string JsonContentType = "application/json; charset=utf-8";

    public int StatusCode => statusCode;
    int? IStatusCodeHttpResult.StatusCode => statusCode;
    public T Value => value;
    object? IValueHttpResult.Value => value;
    public string ContentType => JsonContentType;
    /// <summary>The <c>Location</c> header, if any (e.g. where an accepted order can be read).</summary>
    public string? Location => location;

    public Task ExecuteAsync(HttpContext httpContext)
    {
        var body = JsonSerializer.SerializeToUtf8Bytes(value, typeInfo);
        var response = httpContext.Response;
        response.StatusCode = statusCode;
        if (location is not null) response.Headers.Location = location;
        response.ContentType = JsonContentType;
        response.ContentLength = body.Length;
        return response.Body.WriteAsync(body, httpContext.RequestAborted).AsTask();
    }
}

public static class SizedJson
{
    /// <summary>202 Accepted with a Location header and a JSON body of known length.</summary>
    public static SizedJsonResult<T> Accepted<T>(string location, T value, JsonTypeInfo<T> typeInfo) => new(StatusCodes.Status202Accepted, value, typeInfo, location);
}
