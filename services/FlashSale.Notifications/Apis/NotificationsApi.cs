using System.Security.Claims;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace FlashSale.Notifications.Apis;

public sealed record NotificationView(Guid Id, Guid OrderId, string Sale, string Template, string Recipient, string Subject, string Status,
    int Attempts, string? LastError, DateTimeOffset CreatedAt, DateTimeOffset? SentAt);
public sealed record NotificationPage(IReadOnlyList<NotificationView> Items, int Page, int PageSize, bool HasMore);

[JsonSerializable(typeof(NotificationPage))]
[JsonSourceGenerationOptions(System.Text.Json.JsonSerializerDefaults.Web)]
public partial class NotificationsJsonContext : JsonSerializerContext;

public static class NotificationsApi
{
    public static IEndpointRouteBuilder MapNotificationsApi(this IEndpointRouteBuilder app)
    {
        app.MapGroup("api/notifications").RequireAuthorization().MapGet("/", ListAsync);
        return app;
    }

    /// <summary>The caller's own notifications, newest first.</summary>
    public static async Task<Results<Ok<NotificationPage>, ProblemHttpResult>> ListAsync(ClaimsPrincipal user, [FromServices] NpgsqlDataSource db,
        [FromServices] IOptions<NotificationsOptions> options, CancellationToken ct, int page = 1, int pageSize = 20)
    {
        if (page < 1 || pageSize < 1 || pageSize > options.Value.MaxPageSize)
            return Problems.ValidationProblem(new Dictionary<string, string[]> { ["page"] = [$"page >= 1 and 1 <= pageSize <= {options.Value.MaxPageSize}"] });
        await using var cmd = db.CreateCommand("""
            SELECT id, order_id, sale, template, recipient, subject, status, attempts, last_error, created_at, sent_at
            FROM notifications.notifications WHERE user_id = @user ORDER BY created_at DESC, id DESC LIMIT @limit OFFSET @offset
            """);
        cmd.Parameters.AddWithValue("user", user.GetUserId());
        cmd.Parameters.AddWithValue("limit", pageSize + 1);
        cmd.Parameters.AddWithValue("offset", (long)(page - 1) * pageSize);
        var items = new List<NotificationView>();
        await using var r = await cmd.ExecuteReaderAsync(ct);
        while (await r.ReadAsync(ct))
            items.Add(new NotificationView(r.GetGuid(0), r.GetGuid(1), r.GetString(2), r.GetString(3), r.GetString(4), r.GetString(5), r.GetString(6),
                r.GetInt32(7), r.IsDBNull(8) ? null : r.GetString(8), r.GetFieldValue<DateTimeOffset>(9), r.IsDBNull(10) ? null : r.GetFieldValue<DateTimeOffset>(10)));
        var more = items.Count > pageSize;
        return TypedResults.Ok(new NotificationPage(more ? items[..pageSize] : items, page, pageSize, more));
    }
}
