using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace FlashSale.ServiceDefaults;

/// <summary>
/// The one input policy of every service: text from a client (JSON string values, route and query values) holds no control
/// characters (U+0000-U+001F, U+007F) and no lone surrogates. PostgreSQL refuses NUL in text, and the others have no place
/// in names, keys or logs, so they are refused with a 400 naming the field before a handler touches any store.
/// </summary>
public static class StrictInput
{
    public const string Refusal = "Control characters and invalid Unicode are not allowed.";

    public static bool IsClean(ReadOnlySpan<char> text)
    {
        if (text.IndexOfAnyInRange('\0', '\u001f') >= 0 || text.Contains('\u007f')) return false;
        if (text.IndexOfAnyInRange('\ud800', '\udfff') < 0) return true;
        while (!text.IsEmpty)
        {
            if (Rune.DecodeFromUtf16(text, out _, out var used) != System.Buffers.OperationStatus.Done) return false;
            text = text[used..];
        }
        return true;
    }

    /// <summary>Refuses a request whose route or query values (or query names) break the policy, with 400 VALIDATION naming them.</summary>
    internal static async Task CheckRouteAndQueryAsync(HttpContext context, RequestDelegate next)
    {
        Dictionary<string, string[]>? errors = null;
        foreach (var (name, value) in context.Request.RouteValues)
            if (value is string text && !IsClean(text)) (errors ??= [])[name] = [Refusal];
        foreach (var (name, values) in context.Request.Query)
            if (!IsClean(name) || values.Any(v => v is not null && !IsClean(v))) (errors ??= [])[IsClean(name) ? name : "query"] = [Refusal];
        if (errors is null) { await next(context); return; }
        await Problems.ValidationProblem(errors).ExecuteAsync(context);
    }

    /// <summary>"username" for the JSON path "$.username".</summary>
    internal static string FieldOf(string? jsonPath) => jsonPath is null or "$" ? "body" : jsonPath.StartsWith("$.", StringComparison.Ordinal) ? jsonPath[2..] : jsonPath;
}

/// <summary>Thrown while reading a JSON string that <see cref="StrictInput"/> refuses; answered 400 VALIDATION naming the field.</summary>
public sealed class InvalidTextException() : JsonException(StrictInput.Refusal);

/// <summary>Reads JSON strings under <see cref="StrictInput"/>: in every service's HTTP JSON options, and in contexts that read bodies themselves.</summary>
public sealed class StrictStringConverter : JsonConverter<string>
{
    public override string? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        var value = GetString(ref reader);
        return value is null || StrictInput.IsClean(value) ? value : throw new InvalidTextException();
    }

    // An escaped lone surrogate ("\ud800") makes the reader throw: the same refusal, naming the field.
    static string? GetString(ref Utf8JsonReader reader)
    {
        try { return reader.GetString(); }
        catch (InvalidOperationException) when (reader.TokenType is JsonTokenType.String or JsonTokenType.PropertyName) { throw new InvalidTextException(); }
    }

    public override void Write(Utf8JsonWriter writer, string value, JsonSerializerOptions options) => writer.WriteStringValue(value);

    public override string ReadAsPropertyName(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        var value = GetString(ref reader)!;
        return StrictInput.IsClean(value) ? value : throw new InvalidTextException();
    }

    public override void WriteAsPropertyName(Utf8JsonWriter writer, string value, JsonSerializerOptions options) => writer.WritePropertyName(value);
}
